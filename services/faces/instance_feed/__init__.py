"""services/faces/instance_feed."""
