"""Building thousands of small objects at once (a run's pushes and their explanations) with the
cyclic garbage collector paused."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector paused for one batch, then resumed as it was.

    CPython runs a full collection, over every tracked object of the process (every loaded
    module, the ORM's registry, Arrow's and pandas' objects), whenever the objects that survive
    grow by a quarter. A batch that keeps thousands of dicts (the explanations of one run)
    triggers several of them: measured at half the time of building the batch. Nothing in such
    a batch makes a reference cycle, so reference counting frees it all the same; whatever
    cycles remain are collected on the next pass after the batch.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
