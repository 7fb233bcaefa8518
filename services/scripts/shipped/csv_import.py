"""Reads a CSV file, prints a line per row, writes `report.txt` and `mapfile` to OUTPUT_DIR."""

import argparse
import csv
import os
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("-f", "--file", required=True)
args = parser.parse_args()
output = Path(os.environ["OUTPUT_DIR"])
rows = 0
with open(args.file, newline="", encoding="utf-8") as source, open(output / "mapfile", "w", encoding="utf-8") as mapfile:
    for number, row in enumerate(csv.reader(source), start=1):
        print(f"row {number}: {', '.join(row)}")
        mapfile.write(f"{number} {row[0] if row else ''}\n")
        rows = number
(output / "report.txt").write_text(f"imported {rows} rows from {args.file}\n", encoding="utf-8")
print(f"done: {rows} rows")
