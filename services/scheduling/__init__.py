"""services/scheduling."""
