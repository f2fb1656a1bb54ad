"""A real SMTP server (aiosmtpd) on a free port that keeps what it receives, for tests."""

from __future__ import annotations

import re
import socket
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


class _Keeper:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 OK"


class Mailbox:
    def __init__(self) -> None:
        self._keeper = _Keeper()
        with socket.socket() as probe:  # a free port (aiosmtpd cannot start on port 0)
            probe.bind(("127.0.0.1", 0))
            free = int(probe.getsockname()[1])
        self._controller = Controller(self._keeper, hostname="127.0.0.1", port=free)

    def start(self) -> Mailbox:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def messages(self) -> list[EmailMessage]:
        return list(self._keeper.messages)

    def wait_for(self, to: str, subject_part: str, timeout: float = 10) -> EmailMessage:
        """The newest message to this address whose subject contains ``subject_part``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in reversed(self._keeper.messages):
                if to.lower() in str(message["To"]).lower() and subject_part in str(
                    message["Subject"]
                ):
                    return message
            time.sleep(0.05)
        raise AssertionError(f"no mail to {to} about {subject_part!r}")


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def link_in(message: EmailMessage, path: str) -> str:
    match = re.search(rf"https?://\S+{re.escape(path)}\S*", body_of(message))
    assert match, f"no {path} link in the mail"
    return match.group(0)
