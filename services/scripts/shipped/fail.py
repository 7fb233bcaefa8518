"""Fails on purpose: one line on stderr, exit status 1."""

import sys

print("something went wrong", file=sys.stderr)
sys.exit(1)
