"""services/faces/altinn."""
