"""Routes for operators: readiness and metrics."""
