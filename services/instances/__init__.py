"""services/instances."""
