"""HTTP conventions shared by every face: errors, bodies, auth, logging, OpenAPI."""
