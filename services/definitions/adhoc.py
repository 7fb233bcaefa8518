"""Starting a process from a Concord upload: an archive's own flow model runs ad hoc.

An ad hoc model becomes a definition keyed `adhoc.<first 16 hex of its SHA-256>`, saved by
the system user: the same model uploaded twice is the same definition and version (saving an
unchanged configuration makes no new version), so instances of one model are grouped, and the
model is versioned and audited like any other. Such definitions are marked
`properties.adhoc = true`; they are listed by the OpenDataDSL face like any other.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from services.common.principals import SYSTEM
from services.definitions.commands import SaveDefinition
from services.definitions.service import DefinitionService

ADHOC_PREFIX = "adhoc."


def adhoc_configuration(model: dict[str, Any], source: str = "an uploaded archive") -> tuple[str, dict[str, Any]]:
    """The key and configuration of an archive's model (its `workflow` or `script`, name, input)."""
    configuration = {
        "name": model.get("name") or "Ad hoc process",
        "description": model.get("description") or f"Started from {source}",
        "enabled": True,
        "properties": {"adhoc": True},
        **{k: model[k] for k in ("workflow", "script", "input") if k in model},
    }
    digest = hashlib.sha256(orjson.dumps(configuration, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return ADHOC_PREFIX + digest[:16], configuration


async def adhoc_definition(definitions: DefinitionService, model: dict[str, Any]) -> tuple[str, str | None]:
    """Save (or find) the ad hoc definition of a model; its key and the version that holds it."""
    key, configuration = adhoc_configuration(model)
    # No Idempotency-Key: a stored answer would outlive a deleted definition; the unchanged-
    # configuration rule already makes a second save a no-op, and `save` retries races.
    await definitions.save(SYSTEM, SaveDefinition(key, configuration))
    definition, _ = await definitions.get(key)
    numbers = [n for n, v in definition.versions.items() if v.configuration == configuration]
    return key, str(max(numbers)) if numbers else None
