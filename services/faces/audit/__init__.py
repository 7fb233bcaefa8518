"""services/faces/audit."""
