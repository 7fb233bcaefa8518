"""Definitions in the OpenDataDSL document's shapes."""

from __future__ import annotations

from typing import Any

from services.definitions.models import ConfigurationVersion, VersionSummary

TYPE = "VarProcess"


def configuration(version: ConfigurationVersion) -> dict[str, Any]:
    """A configuration as the document shows it; a non-current version's `_id` is its object id."""
    return {
        "_id": version.object_id or version.key,
        "_type": TYPE,
        **version.configuration,
        "_key": version.key,
        "_version": version.version,
        "_timestamp": version.timestamp.isoformat(),
        "_user": version.user,
    }


def version_entry(summary: VersionSummary) -> dict[str, Any]:
    """One row of the version list: `{id, tags, timestamp, type, user, version}` (version as text)."""
    return {"id": summary.object_id, "tags": summary.tags, "timestamp": summary.timestamp.isoformat(),
            "type": TYPE, "user": summary.user, "version": str(summary.version)}
