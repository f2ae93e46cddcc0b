#!/usr/bin/env python3
"""Runs a command and prints its wall time and peak resident memory (ru_maxrss of the child).

Usage: python3 benches/peer/peak_rss.py -- <command> [args...]
"""
import resource
import subprocess
import sys
import time

args = sys.argv[1:]
if args and args[0] == "--":
    args = args[1:]
t = time.perf_counter()
code = subprocess.call(args, stdout=subprocess.DEVNULL)
dt = time.perf_counter() - t
peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"exit {code}, {dt:.2f} s, peak RSS {peak_mib:.0f} MiB: {' '.join(args)}")
sys.exit(code)
