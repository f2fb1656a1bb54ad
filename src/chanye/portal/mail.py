"""Outgoing mail: through an SMTP server when one is set, otherwise into an outbox folder.

Either way a real RFC 5322 message is built and handed over; the tests receive it with a real SMTP
server (aiosmtpd), so nothing here is mocked.
"""

from __future__ import annotations

import smtplib
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from chanye.config import Settings


@dataclass(frozen=True)
class MailSettings:
    sender: str
    smtp_host: str | None
    smtp_port: int
    outbox: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> MailSettings:
        return cls(settings.mail_from, settings.smtp_host, settings.smtp_port, settings.outbox_dir)


def build_message(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="chanye.localhost")
    message.set_content(body, charset="utf-8")
    return message


def send_mail(settings: MailSettings, to: str, subject: str, body: str) -> EmailMessage:
    message = build_message(settings.sender, to, subject, body)
    if settings.smtp_host:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
            smtp.send_message(message)
    else:
        settings.outbox.mkdir(parents=True, exist_ok=True)
        path = settings.outbox / f"{uuid.uuid4().hex}.eml"
        path.write_bytes(bytes(message))
    return message
