"""The server under load: ``chanye serve`` with 200 concurrent clients for 60 s, SQLite
with 1 worker and PostgreSQL with 4. See ``benchmarks/load/run.py``; figures in
``benchmarks/results/load.json``."""

from __future__ import annotations

from benchmarks.load.run import main as run


def main() -> None:
    run()


if __name__ == "__main__":
    main()
