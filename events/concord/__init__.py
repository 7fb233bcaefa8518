"""Concord projects: safe YAML, the project compiler, forms, the step interpreter and the
`ConcordProgram` engine an instance of a project runs on (see `events/flows/program.py`)."""
