"""services/definitions."""
