from __future__ import annotations

import datetime as dt

from chanye.portal.captcha import ALPHABET, LIFETIME, check_challenge, new_challenge
from chanye.store.database import session_scope
from chanye.store.migrate import upgrade
from chanye.store.models import CaptchaChallenge

T0 = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)


def test_challenge_is_an_image_and_single_use(database_url: str) -> None:
    upgrade(database_url)
    with session_scope(database_url) as session:
        challenge = new_challenge(session, now=T0)
    assert challenge.png.startswith(b"\x89PNG") and len(challenge.answer) == 4
    assert set(challenge.answer) <= set(ALPHABET)
    with session_scope(database_url) as session:
        stored = session.get(CaptchaChallenge, challenge.id)
        assert stored is not None and challenge.answer not in stored.answer_hash
        assert check_challenge(session, challenge.id, challenge.answer.lower(), now=T0)
    with session_scope(database_url) as session:
        assert not check_challenge(session, challenge.id, challenge.answer, now=T0)  # used up


def test_wrong_answer_uses_the_challenge_up_and_expiry_applies(database_url: str) -> None:
    upgrade(database_url)
    with session_scope(database_url) as session:
        first = new_challenge(session, now=T0)
        second = new_challenge(session, now=T0)
    with session_scope(database_url) as session:
        assert not check_challenge(session, first.id, "????", now=T0)
        assert not check_challenge(session, first.id, first.answer, now=T0)
        assert not check_challenge(
            session, second.id, second.answer, now=T0 + LIFETIME + dt.timedelta(seconds=1)
        )
        assert not check_challenge(session, "no-such-id", "ABCD", now=T0)


def test_expired_challenges_are_dropped(database_url: str) -> None:
    upgrade(database_url)
    with session_scope(database_url) as session:
        old = new_challenge(session, now=T0)
    with session_scope(database_url) as session:
        new_challenge(session, now=T0 + dt.timedelta(hours=1))
    with session_scope(database_url) as session:
        assert session.get(CaptchaChallenge, old.id) is None
