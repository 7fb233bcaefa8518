"""services/faces/concord."""
