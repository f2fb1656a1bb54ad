"""Time-based one-time passwords (RFC 6238) for the second login factor."""

from __future__ import annotations

import base64
import io

import pyotp
import qrcode
import qrcode.image.svg

ISSUER = "chanye 产业"


def new_secret() -> str:
    return pyotp.random_base32()


def verify(secret: str, code: str) -> bool:
    """True for the current code or its neighbours (a phone clock a little off still works)."""
    code = "".join(ch for ch in code if ch.isdigit())
    return len(code) == 6 and pyotp.TOTP(secret).verify(code, valid_window=1)


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
