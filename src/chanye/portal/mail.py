"""Outgoing mail: through an SMTP server when one is set, otherwise into an outbox folder.

Either way a real RFC 5322 message is built and handed over; the tests receive it with a real SMTP
server (aiosmtpd), so nothing here is mocked.

Every mail goes out through ``deliver``, with one failure policy: a mail server that is down never
undoes the change the mail tells of, and the failure is never lost silently: it is logged and
recorded in the audit log (``mail.failed``, with the recipient and the subject), so an
administrator can see who was not told and tell them another way.
"""

from __future__ import annotations

import logging
import smtplib
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from sqlalchemy.orm import Session, object_session

from chanye.config import Settings
from chanye.portal.emails import Mail
from chanye.store.audit import Actor, record
from chanye.store.models import Account

log = logging.getLogger(__name__)


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


def _send_mail(settings: MailSettings, to: str, subject: str, body: str) -> EmailMessage:
    message = build_message(settings.sender, to, subject, body)
    if settings.smtp_host:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
            smtp.send_message(message)
    else:
        settings.outbox.mkdir(parents=True, exist_ok=True)
        path = settings.outbox / f"{uuid.uuid4().hex}.eml"
        path.write_bytes(bytes(message))
    return message


def deliver(session: Session, settings: MailSettings, to: str, mail: Mail) -> bool:
    """Send ``mail`` to ``to``; False when it could not be sent (logged and audited, not raised).

    The audit row is written in the caller's transaction, beside the change the mail is about.
    """
    try:
        _send_mail(settings, to, mail.subject, mail.body)
    except (OSError, smtplib.SMTPException) as exc:
        log.exception("could not send %r to %s", mail.subject, to)
        after = {"to": to, "subject": mail.subject, "error": f"{type(exc).__name__}: {exc}"}
        record(session, Actor(), "mail.failed", "mail", None, after=after, result="failure")
        return False
    return True


def deliver_to(settings: MailSettings, account: Account, mail: Mail) -> bool:
    """``deliver`` to an account's address, audited in the session the account was read in."""
    session = object_session(account)
    if session is None:
        raise RuntimeError("a mail's failure is audited in the session its account belongs to")
    return deliver(session, settings, account.email, mail)
