"""Ready-made configurations: the Hackney document's example process, `example-application`."""

from __future__ import annotations

from typing import Any

from events.errors import NotFound
from services.common.principals import SYSTEM
from services.definitions.commands import SaveDefinition
from services.definitions.service import DefinitionService

EXAMPLE_KEY = "example-application"
EXAMPLE_APPLICATION: dict[str, Any] = {
    "name": "Example application",
    "description": "The Hackney processes API document's example: start, attach documents, submit.",
    "enabled": True,
    "workflow": {
        "initialState": "ApplicationStarted",
        "states": {
            "ApplicationStarted": {
                "assignment": {"patch": "housingofficers"},
                "requires": {"formData": True},
                "triggers": {"AttachDocuments": "DocumentsAttached"},
            },
            "DocumentsAttached": {
                "assignment": {"patch": "housingofficers"},
                "requires": {"documents": 1},
                "triggers": {"SubmitApplication": "ApplicationSubmitted"},
            },
            "ApplicationSubmitted": {"final": True},
        },
    },
}


async def ensure_example_application(definitions: DefinitionService) -> None:
    """Create `example-application` unless some definition already holds the key (idempotent)."""
    try:
        await definitions.get(EXAMPLE_KEY)
    except NotFound:
        # A fixed idempotency key: two services starting at once create it once.
        await definitions.save(SYSTEM, SaveDefinition(EXAMPLE_KEY, EXAMPLE_APPLICATION), f"seed:{EXAMPLE_KEY}:v1")
