"""services/audit."""
