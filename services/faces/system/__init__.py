"""services/faces/system."""
