"""Commands on a Concord process that waits on a person: submit a form, resume a `suspend` event.

Both run the flow on inside the command (until it ends, fails or waits again), so the answer
already reflects where the flow went. A submission with field errors records nothing (and
stores no file) and answers the errors by field. Files of `file` fields are stored in the blob
store and attached to the process under `_form_files/<form>/<field>` (as Concord stores them);
the field's value is that name. A process past its `processTimeout` fails as timed out instead.
"""

from __future__ import annotations

import mimetypes
from datetime import UTC, datetime

from infra.blob_store import BlobStore
from infra.tokens import Principal
from services.common.executor import Decision
from services.instances.commands import FormChecked, InstanceChanged, ResumeEvent, SubmitForm
from services.instances.service import InstanceService

FORM_FILES = "_form_files"


class ConcordForms:
    """See the module docstring."""

    def __init__(self, instances: InstanceService, blobs: BlobStore) -> None:
        self.instances = instances
        self.blobs = blobs

    async def submit(self, who: Principal, command: SubmitForm, idem: str | None = None) -> FormChecked:
        """Submit a waiting form's values (and files); the flow runs on when they are accepted."""
        c = command
        paths = {name: f"{FORM_FILES}/{c.form}/{name}" for name in c.files}
        submitted = {**c.values, **paths}

        async def decide() -> Decision[FormChecked]:
            instance = await self.instances.get(c.instance_id)
            graph = await self.instances.graph_of(instance)
            errors = instance.form_errors(graph, c.form, submitted)
            if not errors:
                for name, data in c.files.items():
                    blob = await self.blobs.put_bytes(data)
                    media = mimetypes.guess_type(name)[0] or "application/octet-stream"
                    instance.attach_file(paths[name], blob.size, media, blob.sha256, kind="attachment")
                errors = instance.submit_form(graph, c.form, submitted, who.user, datetime.now(UTC))
            return Decision([instance], FormChecked(str(instance.id), instance.version, str(instance.status), errors))

        return await self.instances.executor.run(who, idem, command, decide, FormChecked)

    async def resume(self, who: Principal, command: ResumeEvent, idem: str | None = None) -> InstanceChanged:
        """Resume a process waiting for the command's event."""

        async def decide() -> Decision[InstanceChanged]:
            instance = await self.instances.get(command.instance_id)
            instance.resume_event(await self.instances.graph_of(instance), command.event, who.user, datetime.now(UTC))
            return Decision([instance], InstanceChanged(str(instance.id), instance.version, str(instance.status),
                                                        instance.element))

        return await self.instances.executor.run(who, idem, command, decide, InstanceChanged)
