"""services/faces/hackney."""
