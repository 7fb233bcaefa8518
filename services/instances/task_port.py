"""The port to whatever runs automated (service and script) tasks.

When a flow reaches a serviceTask or scriptTask, the instance records `AutomatedTaskRequested`
and waits. A worker follows those events, calls a `TaskRunner`, and reports the outcome through
`InstanceService.complete_task` or `fail_task`, which move the flow on or fail the instance.
The real script runner is another capability; tests complete tasks through the service directly.
"""

from __future__ import annotations

from typing import Any, Protocol


class TaskFailed(Exception):
    """A task runner could not finish a task; the message says why."""


class TaskRunner(Protocol):
    """Runs one automated task of one instance and returns its result."""

    async def run(self, instance_id: str, task: str, parameters: dict[str, Any]) -> dict[str, Any]:
        """Run `task` (a registered script name) with the instance's parameters; raise TaskFailed on failure."""
        ...
