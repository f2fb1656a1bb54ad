"""Vectorised USCC generation agrees with python-stdnum, the reference implementation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from chanye.synth import uscc

BODIES = st.lists(
    st.text(alphabet=uscc.ALPHABET, min_size=17, max_size=17), min_size=1, max_size=50
)


@settings(max_examples=200, deadline=None)
@given(BODIES)
def test_check_characters_match_stdnum(bodies: list[str]) -> None:
    expected = [stdnum_uscc.calc_check_digit(body) for body in bodies]
    assert uscc.check_characters(np.array(bodies)).tolist() == expected


@pytest.mark.parametrize(
    "bad",
    [
        "91440106ma5c00000",  # lower case
        "9144010600000000",  # 16 characters
        "914401060000000000",  # 18 characters
        "91440106ABCDEFGIO",  # I and O are not in the alphabet
        "91440106广州0000000",
    ],
)
def test_check_characters_refuse_malformed_bodies(bad: str) -> None:
    with pytest.raises(ValueError):
        uscc.check_characters(np.array(["91440106000000000", bad]))


def test_random_usccs_are_valid_unique_and_placed() -> None:
    rng = np.random.default_rng(11)
    districts = rng.choice(["440103", "440106", "440118"], size=20_000)
    prefixes = rng.choice(["91", "92", "93"], size=20_000)
    codes = uscc.random_usccs(rng, districts, prefixes)
    assert all(stdnum_uscc.is_valid(code) for code in codes)
    assert len(set(codes.tolist())) == len(codes)
    assert [c[2:8] for c in codes] == districts.tolist()
    assert [c[:2] for c in codes] == prefixes.tolist()
    assert uscc.random_usccs(np.random.default_rng(11), districts, prefixes).tolist() != (
        codes.tolist()
    )  # the generator's state moved on: another draw, other codes


def test_organisation_codes_drawn_again_on_collision(monkeypatch: pytest.MonkeyPatch) -> None:
    # With only 40 organisation codes for 35 firms of one district, collisions are certain.
    monkeypatch.setattr(uscc, "ORG_SPACE", 40)
    codes = uscc.random_usccs(np.random.default_rng(1), np.full(35, "440106"))
    assert len(set(codes.tolist())) == 35
    assert all(stdnum_uscc.is_valid(code) for code in codes)


def test_same_seed_same_codes() -> None:
    districts = np.full(1000, "440111")
    first = uscc.random_usccs(np.random.default_rng(5), districts)
    again = uscc.random_usccs(np.random.default_rng(5), districts)
    other = uscc.random_usccs(np.random.default_rng(6), districts)
    assert first.tolist() == again.tolist()
    assert first.tolist() != other.tolist()
    assert {code[:2] for code in first} == {"91"}
