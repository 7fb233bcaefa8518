"""services/scripts."""
