"""Wire shapes: pydantic models of HTTP bodies and published events. No behaviour."""
