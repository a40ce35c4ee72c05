"""The hook fuzz suite (tests/integration/test_hook_fuzz.py), run longer than ``make test`` does.

    .venv/bin/python bench/hook_fuzz.py [--quick] [--examples N]

``make test`` runs 10 hypothesis examples per endpoint and kind of input (~430 requests); this
runs ``--examples`` (default 500: ~21,000 requests, tens of minutes; 5 with ``--quick``) against
a real ``lattice-hooks`` process. A failure prints hypothesis' shrunk example and the exit code is
1. Not a timing: the figures are how much was tried and how much failed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE = "tests/integration/test_hook_fuzz.py"
ENDPOINTS = 21  # 7 controllers x sync, customize, finalize
KINDS = 2  # mutated valid requests, random bodies


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="5 examples per endpoint and kind (seconds)")
    p.add_argument("--examples", type=int, default=None, help="hypothesis examples per endpoint and kind")
    args = p.parse_args()
    examples = args.examples or (5 if args.quick else 500)
    env = {**os.environ, "LATTICE_FUZZ_EXAMPLES": str(examples)}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", SUITE,
                           "-W", "ignore::hypothesis.errors.HypothesisWarning"],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    if proc.returncode != 0:
        print(proc.stdout[-20_000:], proc.stderr[-5_000:], sep="\n")
    failed = sum(int(n) for n in re.findall(r"(\d+) (?:failed|error)", summary))
    print(f"suite: {SUITE}, {examples} examples per endpoint and kind of input; {summary}")
    print(f"fuzz_examples_per_endpoint={examples}")
    print(f"fuzz_requests_at_most={examples * ENDPOINTS * KINDS}")
    print(f"fuzz_seconds={elapsed:.0f}")
    print(f"fuzz_failures={failed}")
    return 0 if proc.returncode == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
