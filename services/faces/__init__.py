"""The five faces: each translates its document's routes into the shared commands and reads."""
