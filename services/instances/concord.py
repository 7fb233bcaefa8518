"""Commands on a Concord process that waits on a person: submit a form, resume a `suspend` event.

Both run the flow on inside the command (until it ends, fails or waits again), so the answer
already reflects where the flow went. A submission with field errors records nothing and
answers the errors by field. Files of `file` fields are stored in the blob store and attached
to the process under `_form_files/<form>/<field>` (as Concord stores them); the field's value is
that name. A process past its `processTimeout` fails as timed out instead.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from events.concord_instance import ConcordProgram
from events.errors import Conflict
from events.instance import ProcessInstance
from infra.blob_store import BlobStore
from infra.tokens import Principal
from services.common.executor import Decision
from services.definitions.service import check_if_match
from services.instances.service import InstanceService

FORM_FILES = "_form_files"


@dataclass(frozen=True)
class FormOutcome:
    """A submission's outcome: accepted (no errors), or the errors by field name."""

    instance_id: str
    errors: dict[str, str] = field(default_factory=dict)
    status: str = ""

    @property
    def ok(self) -> bool:
        """Whether the submission was accepted."""
        return not self.errors


class ConcordForms:
    """See the module docstring."""

    def __init__(self, instances: InstanceService, blobs: BlobStore) -> None:
        self.instances = instances
        self.blobs = blobs

    async def submit(self, who: Principal, instance_id: str, form: str, values: dict[str, Any],
                     files: dict[str, bytes] | None = None, idem: str | None = None) -> FormOutcome:
        """Submit a waiting form's values (and files); the flow runs on when they are accepted."""
        stored = {name: await self.blobs.put_bytes(data) for name, data in (files or {}).items()}
        paths = {name: f"{FORM_FILES}/{form}/{name}" for name in stored}
        submitted = {**values, **paths}

        async def decide() -> Decision:
            instance = await self.instances.get(instance_id)
            check_if_match(instance, None)
            program = await self._program(instance)
            errors = instance.concord_form_errors(program, form, submitted)
            if not errors:
                for name, blob in stored.items():
                    media = mimetypes.guess_type(name)[0] or "application/octet-stream"
                    instance.attach_file(paths[name], blob.size, media, blob.sha256, kind="attachment")
                errors = instance.submit_concord_form(program, form, submitted, who.user, datetime.now(UTC))
            return Decision([instance], {"id": str(instance.id), "errors": errors, "status": str(instance.status)})

        answer = await self.instances.executor.run(who, idem, decide, request=("concordForm", instance_id, form, submitted))
        return FormOutcome(answer["id"], answer["errors"], answer["status"])

    async def resume(self, who: Principal, instance_id: str, event: str, idem: str | None = None) -> str:
        """Resume a process waiting for `event`; its status afterwards."""

        async def decide() -> Decision:
            instance = await self.instances.get(instance_id)
            instance.resume_concord_event(await self._program(instance), event, who.user, datetime.now(UTC))
            return Decision([instance], {"id": str(instance.id), "status": str(instance.status)})

        answer = await self.instances.executor.run(who, idem, decide, request=("concordResume", instance_id, event))
        return str(answer["status"])

    async def _program(self, instance: ProcessInstance) -> ConcordProgram:
        program = (await self.instances.graph_of(instance)).program
        if not isinstance(program, ConcordProgram):
            raise Conflict("the process does not run a Concord project")
        return program
