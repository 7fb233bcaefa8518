"""services/faces/opendatadsl."""
