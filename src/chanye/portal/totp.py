"""Time-based one-time passwords (RFC 6238) for the second login factor."""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import io

import pyotp
import qrcode
import qrcode.image.svg

ISSUER = "chanye 产业"


def new_secret() -> str:
    return pyotp.random_base32()


def verify(secret: str, code: str) -> bool:
    """True for the current code or its neighbours (a phone clock a little off still works)."""
    return matching_step(secret, code) is not None


def matching_step(
    secret: str, code: str, after_step: int | None = None, now: dt.datetime | None = None
) -> int | None:
    """The time step whose code this is: the current one or a neighbour, and later than
    ``after_step``, the last step already accepted (RFC 6238 §5.2: a code is accepted once)."""
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != 6:
        return None
    generator = pyotp.TOTP(secret)
    current = generator.timecode(now or dt.datetime.now(dt.UTC))
    for step in (current - 1, current, current + 1):
        if after_step is not None and step <= after_step:
            continue
        if hmac.compare_digest(generator.generate_otp(step), code):
            return step
    return None


def current_code(secret: str) -> str:
    return pyotp.TOTP(secret).now()


def provisioning_uri(secret: str, account_name: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=ISSUER)


def qr_data_url(uri: str) -> str:
    """The URI as a QR code in an SVG data URL (drawn without any script)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()
