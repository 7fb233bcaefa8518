"""The request schemas say that no stored string may hold a NUL (services/http/openapi_storable.py)."""

from __future__ import annotations

import re

from services.http.openapi_storable import NUL_FREE, storable

STORED = {"$ref": "#/components/schemas/StoredValue"}


def test_a_string_gets_the_pattern_unless_it_has_its_own_an_enum_or_is_binary() -> None:
    assert storable({"type": "string"}) == {"type": "string", "pattern": NUL_FREE}
    assert storable({"type": "string", "pattern": "^[a-z]+$"})["pattern"] == "^[a-z]+$"
    assert "pattern" not in storable({"type": "string", "enum": ["a"]})
    assert "pattern" not in storable({"type": "string", "format": "binary"})
    assert re.fullmatch(NUL_FREE, "text") and not re.fullmatch(NUL_FREE, "a\x00b")


def test_free_form_json_becomes_a_stored_value_and_nested_schemas_are_walked() -> None:
    schema = {
        "type": "object",
        "properties": {
            "formData": {"type": "object", "additionalProperties": True},
            "value": {"title": "Value", "default": None},
            "target": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "documents": {"type": "array", "items": {"type": "string"}},
            "any": {"type": "array"},
        },
        "additionalProperties": False,
    }
    out = storable(schema)["properties"]
    assert out["formData"]["additionalProperties"] == STORED and out["formData"]["propertyNames"] == {"pattern": NUL_FREE}
    assert out["value"] == {**STORED, "title": "Value", "default": None}
    assert out["target"]["anyOf"] == [{"type": "string", "pattern": NUL_FREE}, {"type": "null"}]
    assert out["documents"]["items"]["pattern"] == NUL_FREE and out["any"]["items"] == STORED
    assert storable(schema)["additionalProperties"] is False  # extra members refused stay refused
