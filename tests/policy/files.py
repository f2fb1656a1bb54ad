"""Policy files the loader refuses, read in process: each of its many rules is tested on a bad
file without starting ``chanye policy check`` for every one (the command itself, as a process,
has its own tests in tests/policy/test_cli.py and beside each rule's first case)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chanye.policy.loader import PolicyFileError, load_policy_file


def refusal(path: Path) -> str:
    """What ``chanye policy check`` prints of ``path``'s problems (one per line), for a file the
    loader refuses."""
    with pytest.raises(PolicyFileError) as refused:
        load_policy_file(path)
    return "\n".join(str(p) for p in refused.value.problems)
