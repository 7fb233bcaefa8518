"""What the request schemas of the OpenAPI document add for every value a request stores: no NUL.

No PostgreSQL text or JSON value can hold U+0000, so every command that would store one is
refused (422, `services/common/executor.py`). The request bodies' schemas say so: a string gets a
pattern without NUL (unless it has its own pattern, written without one), and free-form JSON
(`dict[str, Any]`, `Any`, a model taking extra fields) becomes `StoredValue`: any JSON whose
strings and member names hold no NUL. Parameters are not stored (a NUL in a filter matches
nothing), so they keep their schemas.
"""

from __future__ import annotations

from typing import Any

NUL_FREE = "^[^\\u0000]*$"
STORED_VALUE = "StoredValue"
_REF = {"$ref": f"#/components/schemas/{STORED_VALUE}"}
_STORED_VALUE_SCHEMA = {
    "description": "Any JSON value whose strings and member names hold no NUL character",
    "anyOf": [
        {"type": "string", "pattern": NUL_FREE},
        {"type": ["number", "boolean", "null"]},
        {"type": "array", "items": _REF},
        {"type": "object", "propertyNames": {"pattern": NUL_FREE}, "additionalProperties": _REF},
    ],
}
# Keywords that make a schema say something: one with none of them accepts any JSON value.
_CONSTRAINTS = frozenset({
    "type", "$ref", "anyOf", "oneOf", "allOf", "not", "enum", "const", "properties", "items",
    "additionalProperties", "pattern", "format", "minLength", "maxLength", "minProperties",
})


def storable(schema: Any) -> Any:
    """`schema` with no NUL allowed in a string it holds (a JSON Schema, walked by its subschemas)."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    for key in ("items", "not", "propertyNames", "contains", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = storable(out[key])
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        if isinstance(out.get(key), list):
            out[key] = [storable(s) for s in out[key]]
    if isinstance(out.get("properties"), dict):
        out["properties"] = {name: storable(s) for name, s in out["properties"].items()}
    types = out.get("type") if isinstance(out.get("type"), list) else [out.get("type")]
    if "string" in types and not out.keys() & {"pattern", "enum", "const"} and out.get("format") != "binary":
        out["pattern"] = NUL_FREE
    free_object = "object" in types and "properties" not in out and "additionalProperties" not in out
    if out.get("additionalProperties") is True or free_object:
        out["additionalProperties"] = _REF
        out.setdefault("propertyNames", {"pattern": NUL_FREE})
    elif "array" in types and "items" not in out:
        out["items"] = _REF
    elif not out.keys() & _CONSTRAINTS:
        out = {**_REF, **out}
    return out


def make_storable(paths: dict[str, Any], components: dict[str, Any]) -> None:
    """Apply `storable` to every request body's schema and to the components they use, in place."""
    names: set[str] = set()
    for operations in paths.values():
        for operation in operations.values():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                media["schema"] = storable(media["schema"])
                names |= _references(media["schema"], components)
    for name in names - {STORED_VALUE}:
        components[name] = storable(components[name])
    components[STORED_VALUE] = _STORED_VALUE_SCHEMA


def _references(schema: Any, components: dict[str, Any], seen: set[str] | None = None) -> set[str]:
    """The names of the components `schema` uses, directly or through others."""
    seen = set() if seen is None else seen
    if isinstance(schema, dict):
        ref = schema.get("$ref", "")
        if ref.startswith("#/components/schemas/") and (name := ref.rsplit("/", 1)[1]) not in seen:
            seen.add(name)
            _references(components.get(name), components, seen)
        for value in schema.values():
            _references(value, components, seen)
    elif isinstance(schema, list):
        for value in schema:
            _references(value, components, seen)
    return seen
