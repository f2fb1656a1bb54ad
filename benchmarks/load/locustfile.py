"""What the simulated clients do (run by ``benchmarks.load.run`` through the ``locust`` command).

Two kinds of client, in equal numbers: anonymous visitors reading the public pages, and analysts
searching the registry in a session of their own (tokens from the file named by
``CHANYE_LOAD_SESSIONS``, one per line). Any answer but 200 is a failure. No client waits between
requests: each sends its next request as soon as the last is answered.
"""

from __future__ import annotations

import itertools
import os
import random
from pathlib import Path
from urllib.parse import quote

from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

PUBLIC_PAGES = ("/", "/system", "/policies")
SEARCH_WORDS = ("科技", "智能", "生物", "汽车", "材料", "信息", "医药", "电子", "")
_tokens = itertools.cycle(
    Path(os.environ["CHANYE_LOAD_SESSIONS"]).read_text(encoding="utf-8").split()
)


class Visitor(FastHttpUser):
    """Someone who is not logged in, reading the public pages."""

    wait_time = constant(0)

    @task
    def public_page(self) -> None:
        page = random.choice(PUBLIC_PAGES)
        self.client.get(page, name=page)


class Analyst(FastHttpUser):
    """An analyst (产业办分析员) searching the registry, logged in."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.session = next(_tokens)

    @task
    def search(self) -> None:
        word = random.choice(SEARCH_WORDS)
        page = random.randint(1, 5)
        self.client.get(
            f"/registry?q={quote(word)}&page={page}",
            name="/registry?q=…",
            headers={"Cookie": f"chanye_session={self.session}"},
        )
