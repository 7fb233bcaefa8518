"""Prints a message `--count` times: a demo script (arguments arrive verbatim, never via a shell)."""

import argparse

parser = argparse.ArgumentParser()
parser.add_argument("-m", "--message", required=True)
parser.add_argument("-n", "--count", type=int, default=1)
args = parser.parse_args()
for _ in range(args.count):
    print(args.message)
