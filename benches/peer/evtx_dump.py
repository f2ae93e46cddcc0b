#!/usr/bin/env python3
"""The peer of `cargo bench --bench evtx`: times `evtx_dump -o jsonl FILE` (the evtx crate's own
tool, all cores) writing to /dev/null, and prints the median wall time, MB/s, events/s and the
peak resident memory.

Usage: python3 benches/peer/evtx_dump.py [--runs 5] [--evtx-dump PATH] FILE.evtx
Install the peer with `cargo install evtx --version 0.15.1` (it puts evtx_dump in ~/.cargo/bin).
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import time

ap = argparse.ArgumentParser()
ap.add_argument("file")
ap.add_argument("--runs", type=int, default=5)
ap.add_argument("--evtx-dump", default=shutil.which("evtx_dump") or os.path.expanduser("~/.cargo/bin/evtx_dump"))
a = ap.parse_args()

size = os.path.getsize(a.file)
times = []
events = 0
for i in range(a.runs):
    t = time.perf_counter()
    if i == 0:
        # Count the records once (one JSON line each); the timed runs discard the output.
        out = subprocess.run([a.evtx_dump, "-o", "jsonl", a.file], stdout=subprocess.PIPE, check=True).stdout
        events = out.count(b"\n")
        del out
        continue
    subprocess.run([a.evtx_dump, "-o", "jsonl", a.file], stdout=subprocess.DEVNULL, check=True)
    times.append(time.perf_counter() - t)
med = statistics.median(times)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"evtx_dump -o jsonl {a.file}: {size / 1e6:.0f} MB, {events} events")
print(f"  median {med:.2f} s over {len(times)} runs (min {min(times):.2f}, max {max(times):.2f})")
print(f"  {size / 1e6 / med:.1f} MB/s, {events / med:,.0f} events/s; peak RSS {peak:.0f} MiB (includes the counting run)")
