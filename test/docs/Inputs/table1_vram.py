"""Renders table1 rows (Inputs/table1-rows.json: three rows of a docs/table1.json) with a
made-up GPU run's table1-vram.json through scripts/table1-report.py's functions (no
figures: matplotlib is not needed), printing the table's lines for FileCheck."""
import importlib.util
import json
import sys
import types

spec = importlib.util.spec_from_file_location("report", sys.argv[1])
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)
rows = json.load(open(sys.argv[2]))["rows"]
vram = {"date": "2026-12-31", "device": "Test GPU, 1.0",
        "rows": {"fp32": {"process_bytes": 1100 * 2**20, "arena_bytes": 560_000_000},
                 "stored": {"process_bytes": 640 * 2**20, "arena_bytes": 110_000_000}}}
report.add_vram(rows, vram)
args = types.SimpleNamespace(date="2026-12-31", caveat="")
with_gpu = report.markdown(rows, args, [], vram).splitlines()
without = report.markdown(rows, args, []).splitlines()
print("\n".join(l for l in with_gpu if l.startswith(("|", "Peak VRAM"))))
print("WITHOUT: " + next(l for l in without if l.startswith("| recipe")))
