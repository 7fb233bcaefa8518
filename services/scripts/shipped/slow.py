"""Runs for `--seconds`, printing its pid first and then a line every 100 ms."""

import argparse
import os
import time

parser = argparse.ArgumentParser()
parser.add_argument("-s", "--seconds", type=int, default=10)
args = parser.parse_args()
print(f"pid {os.getpid()}")
deadline = time.monotonic() + args.seconds
tick = 0
while time.monotonic() < deadline:
    tick += 1
    print(f"tick {tick}")
    time.sleep(0.1)
