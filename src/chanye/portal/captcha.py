"""Image captchas for the login box: a new one for each attempt, single-use, short-lived.

Only a hash of the answer is stored. ``new_challenge`` returns the answer to its caller (the
server); whether anything outside the server may ever see it is the web layer's decision, made by
a testing setting that is off by default.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from chanye.store.models import CaptchaChallenge, CaptchaTestingAnswer, utcnow

# No 0/O, 1/I/L: characters people confuse on a distorted image.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 4
LIFETIME = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Challenge:
    id: str
    answer: str
    png: bytes


def _digest(answer: str) -> str:
    return hashlib.sha256(answer.strip().upper().encode()).hexdigest()


def new_challenge(
    session: Session, now: dt.datetime | None = None, *, expose_answer: bool = False
) -> Challenge:
    """A new challenge; ``expose_answer`` (the testing setting only) also keeps its answer in
    clear for ``exposed_answer``."""
    from captcha.image import ImageCaptcha  # the library bundles its own font

    now = now or utcnow()
    answer = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    challenge = CaptchaChallenge(
        id=secrets.token_urlsafe(24),
        answer_hash=_digest(answer),
        expires_at=now + LIFETIME,
        used=False,
    )
    session.add(challenge)
    if expose_answer:
        session.add(CaptchaTestingAnswer(challenge_id=challenge.id, answer=answer))
    # Expired challenges are of no use to anyone: drop them as new ones are made.
    expired = select(CaptchaChallenge.id).where(CaptchaChallenge.expires_at < now)
    session.execute(
        delete(CaptchaTestingAnswer).where(CaptchaTestingAnswer.challenge_id.in_(expired))
    )
    session.execute(delete(CaptchaChallenge).where(CaptchaChallenge.expires_at < now))
    png = ImageCaptcha(width=160, height=60).generate(answer).getvalue()
    return Challenge(challenge.id, answer, png)


def exposed_answer(session: Session, challenge_id: str) -> str | None:
    """TESTING ONLY: the answer of a challenge made with ``expose_answer``, while it is unused."""
    return session.scalar(
        select(CaptchaTestingAnswer.answer)
        .join(CaptchaChallenge, CaptchaChallenge.id == CaptchaTestingAnswer.challenge_id)
        .where(CaptchaTestingAnswer.challenge_id == challenge_id, CaptchaChallenge.used.is_(False))
    )


def check_challenge(
    session: Session, challenge_id: str, answer: str, now: dt.datetime | None = None
) -> bool:
    """True once for the right answer (any letter case) before expiry; every check uses it up.

    The challenge is claimed with one conditional update, so that of several requests sent at
    once with the same answer only one can pass."""
    now = now or utcnow()
    challenge = session.get(CaptchaChallenge, challenge_id)
    if challenge is None or challenge.used:
        return False
    claim = update(CaptchaChallenge).where(
        CaptchaChallenge.id == challenge_id, CaptchaChallenge.used.is_(False)
    )
    if session.execute(claim.values(used=True)).rowcount != 1:  # type: ignore[attr-defined]
        return False
    expires = (
        challenge.expires_at
        if challenge.expires_at.tzinfo
        else challenge.expires_at.replace(tzinfo=dt.UTC)
    )
    return now <= expires and secrets.compare_digest(challenge.answer_hash, _digest(answer))
