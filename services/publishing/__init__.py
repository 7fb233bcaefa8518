"""services/publishing."""
