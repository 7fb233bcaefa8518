"""Checking an uploaded Concord project before anything is stored or started.

Everything that would make the project fail for a reason known up front is a 400 problem
listing each cause with its file and line: YAML the safe reader refuses (too large, too deep,
too many aliases, object tags), steps and options outside the supported subset, expressions
that do not parse, an unknown active profile or entry flow, and `task` steps naming no
registered script. Parsing runs in an executor, off the event loop.
"""

from __future__ import annotations

import asyncio

from events.concord.compiler import concord_project, is_concord
from events.concord.project import Project
from events.errors import NotFound
from events.flows.graph import WorkflowError
from services.faces.concord.payload import StartPlan
from services.http.context import RequestContext
from services.http.problems import ProblemError


async def check_project(ctx: RequestContext, plan: StartPlan) -> None:
    """Refuse (400) an ad hoc Concord project that cannot run here; a no-op for anything else."""
    runtime = ctx.runtime
    workflow = (plan.adhoc or {}).get("workflow")
    if not is_concord(workflow):
        return  # activeProfiles are then only recorded (shown in the status), as on every start
    limit = runtime.settings.max_workflow_bytes
    try:
        project: Project = await asyncio.get_running_loop().run_in_executor(
            None, lambda: concord_project(workflow, max_bytes=limit))
        view = project.view(plan.profiles)
    except WorkflowError as e:
        raise ProblemError(400, f"the Concord project cannot run here: {e.title}", title="Unsupported Concord project",
                           errors=e.problems) from None
    problems = []
    flow = plan.flow or view.entry_point
    if flow not in view.flows:
        problems.append(f"entryPoint: the project has no flow {flow!r}")
    for name, where in project.tasks:
        try:
            runtime.registry.get(name)
        except NotFound:
            problems.append(f"{where.file} (line {where.line}): task {name!r} is not a registered script of this service")
    if problems:
        raise ProblemError(400, "the Concord project cannot run here", title="Unsupported Concord project", errors=problems)
