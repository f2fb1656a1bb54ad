"""The demo policies shipped with chanye (``src/chanye/policy/data/demo``)."""

from __future__ import annotations

from pathlib import Path

from chanye.policy.loader import load_policy_file
from chanye.policy.model import Policy

DEMO_DIR = Path(__file__).resolve().parent / "data" / "demo"


def demo_files() -> list[Path]:
    return sorted(DEMO_DIR.glob("*.yaml"))


def demo_policies() -> list[Policy]:
    return [load_policy_file(path) for path in demo_files()]
