"""`make bench`: run every benchmark module (``benchmarks/bench_*.py``), each writing its figures
to ``benchmarks/results/<name>.json``."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if not names:
        print("no benchmarks found (benchmarks/bench_*.py)")
        return 0
    for name in names:
        print(f"== {name}")
        importlib.import_module(f"benchmarks.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
