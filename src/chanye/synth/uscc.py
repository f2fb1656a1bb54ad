"""Unified social credit codes (统一社会信用代码, GB 32100-2015), millions at a time with numpy.

Layout: positions 1–2 registration authority and entity type (``91`` = enterprise registered by
market regulation), 3–8 the registering authority's division code, 9–17 the organisation code,
18 the check character. The check is the one python-stdnum implements: weights 3^i mod 31 over the
characters' indices in the alphabet, check = alphabet[(31 - total mod 31) mod 31].

Codes are handled as (n, 18) arrays of alphabet indices so that the check is one matrix product
and the strings are made once, at the end, from bytes.
"""

from __future__ import annotations

import numpy as np

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 0-9 and A-Z without I, O, S, V, Z
WEIGHTS = np.array((1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28), np.int64)
BODY_LENGTH = 17
ORG_LENGTH = 9
ORG_SPACE = len(ALPHABET) ** ORG_LENGTH  # 31^9 ≈ 2.6e13 organisation codes per division

_ASCII = np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)
_INDEX_OF_CODEPOINT = np.full(128, -1, dtype=np.int16)
_INDEX_OF_CODEPOINT[_ASCII] = np.arange(len(ALPHABET))
_CHARACTERS = np.array(list(ALPHABET))


def check_indices(bodies: np.ndarray) -> np.ndarray:
    """Alphabet index of the check character for (n, 17) arrays of alphabet indices."""
    total = np.zeros(len(bodies), dtype=np.int32)
    for position, weight in enumerate(WEIGHTS):  # column by column: no (n, 17) int64 copy
        total += bodies[:, position].astype(np.int32) * int(weight)
    result: np.ndarray = (31 - total % 31) % 31
    return result


def check_characters(bodies: np.ndarray) -> np.ndarray:
    """The check character (a 1-char str array) of each 17-character body.

    Raises ValueError for a body that is not 17 characters of the alphabet.
    """
    texts = np.asarray(bodies, dtype=str)
    if texts.ndim != 1:
        raise ValueError("bodies must be a one-dimensional array of strings")
    if texts.size == 0:
        return np.empty(0, dtype="<U1")
    if np.any(np.char.str_len(texts) != BODY_LENGTH):
        raise ValueError(f"every body must be {BODY_LENGTH} characters long")
    points = np.ascontiguousarray(texts.astype(f"<U{BODY_LENGTH}")).view(np.uint32)
    points = points.reshape(-1, BODY_LENGTH)
    if points.max() >= len(_INDEX_OF_CODEPOINT):
        raise ValueError(f"bodies may only use the characters {ALPHABET}")
    indices = _INDEX_OF_CODEPOINT[points]
    if np.any(indices < 0):
        raise ValueError(f"bodies may only use the characters {ALPHABET}")
    result: np.ndarray = _CHARACTERS[check_indices(indices)]
    return result


def random_uscc_indices(
    rng: np.random.Generator, heads: np.ndarray, head_ids: np.ndarray | None = None
) -> np.ndarray:
    """(n, 18) uint8 alphabet indices of valid, distinct USCCs.

    ``heads`` are (n, 8) digits: positions 1–2 (registration authority and entity type, e.g. 9 1)
    and 3–8 (division code). ``head_ids`` optionally number the distinct heads (0, 1, ...) when the
    caller already knows them. Organisation codes are random; one that would repeat a code already
    drawn under the same head is drawn again, so the result holds no duplicates.
    """
    if head_ids is None:
        numbers = heads.astype(np.int64) @ (10 ** np.arange(7, -1, -1, dtype=np.int64))
        head_ids = np.unique(numbers, return_inverse=True)[1].reshape(-1)
    org = _unique_orgs(rng, np.asarray(head_ids, dtype=np.int64))
    codes = np.empty((len(heads), BODY_LENGTH + 1), dtype=np.uint8)
    codes[:, :8] = heads
    for position in range(ORG_LENGTH - 1, -1, -1):  # most significant organisation digit first
        org, codes[:, 8 + position] = np.divmod(org, len(ALPHABET))
    codes[:, BODY_LENGTH] = check_indices(codes[:, :BODY_LENGTH])
    return codes


def digits(texts: np.ndarray, width: int) -> np.ndarray:
    """(n, width) digit values of equal-length digit strings (digits are their own indices)."""
    points = np.ascontiguousarray(np.asarray(texts).astype(f"<U{width}")).view(np.uint32)
    points = points.reshape(-1, width)
    if points.size and (points.min() < ord("0") or points.max() > ord("9")):
        raise ValueError("prefixes and district codes must be digits")
    return (points - ord("0")).astype(np.uint8)


def _unique_orgs(rng: np.random.Generator, head_ids: np.ndarray) -> np.ndarray:
    # A collision needs the same head and organisation code: key them together. There are few
    # distinct heads, so head number × 31^9 + organisation code stays well inside int64.
    org = rng.integers(0, ORG_SPACE, size=len(head_ids), dtype=np.int64)
    while True:
        keys = head_ids * ORG_SPACE + org
        ordered = np.sort(keys)  # a plain sort is fast; the slower search runs only on a collision
        if not np.any(ordered[1:] == ordered[:-1]):
            return org
        clashing = np.flatnonzero(np.isin(keys, ordered[1:][ordered[1:] == ordered[:-1]]))
        _, first = np.unique(keys[clashing], return_index=True)
        again = np.delete(clashing, first)  # every occurrence but the first is drawn again
        org[again] = rng.integers(0, ORG_SPACE, size=len(again), dtype=np.int64)


def to_ascii(codes: np.ndarray) -> np.ndarray:
    """(n, 18) alphabet indices → (n, 18) ASCII bytes."""
    result: np.ndarray = _ASCII[codes]
    return result


def to_strings(codes: np.ndarray) -> np.ndarray:
    """(n, k) alphabet indices → str array of k-character codes."""
    width = codes.shape[1]
    ascii_bytes = np.ascontiguousarray(to_ascii(codes))
    return ascii_bytes.view(f"S{width}").reshape(-1).astype(f"<U{width}")


def random_usccs(
    rng: np.random.Generator, district_codes: np.ndarray, prefixes: np.ndarray | None = None
) -> np.ndarray:
    """Valid, distinct 18-character USCCs (str array), one per 6-digit district code given.

    ``prefixes`` are the 2-digit positions 1–2 per code (default ``91``).
    """
    districts = digits(np.asarray(district_codes), 6)
    if prefixes is None:
        heads = np.hstack([np.tile(np.array([9, 1], np.uint8), (len(districts), 1)), districts])
    else:
        heads = np.hstack([digits(np.asarray(prefixes), 2), districts])
    return to_strings(random_uscc_indices(rng, heads))
