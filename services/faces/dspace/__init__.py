"""services/faces/dspace."""
