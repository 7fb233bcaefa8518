"""The operator's commands of the `procession` CLI: definitions, instances, schedules, db."""
