"""Operating the service: readiness, metrics, and the life of a serving process."""
