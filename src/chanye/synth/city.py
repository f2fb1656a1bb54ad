"""A synthetic city's enterprise file, as its bureaus would hand it over (``chanye synth city``).

What it is for: demos, tests and benchmarks that need millions of plausible enterprises whose right
answers are known. Rows are drawn from the calibration profile (``data/guangzhou_profile.toml``)
and the industrial system; the generator keeps what it meant each row to be (kind, industry, chain
link) and which rows it spoiled, so tests can check the classifier, the calibration and the
importer's checks against the truth.

How it stays fast: no per-row Python. Numbers are numpy arithmetic; every text column is an index
into a small pool of pre-built strings (字号, industry words, a few thousand business scopes),
joined by pyarrow. Pools never depend on the seed; rows do, through ``numpy.random.default_rng``
streams spawned from it, so the same n, seed and dirty fraction give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import tomllib
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import ahocorasick
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from chanye.problems import ReasonRefusedError
from chanye.registry.schema import TAG_IDS, TAG_LABELS
from chanye.spreadsheets import workbook_bytes
from chanye.synth import uscc
from chanye.system.industry_codes import catalogue
from chanye.system.model import IndustrialSystem, Industry

PROFILE_FILE = "guangzhou_profile.toml"
HEADERS = (
    "统一社会信用代码",
    "企业名称",
    "所属区",
    "行业代码",
    "经营范围",
    "成立日期",
    "注册资本（万元）",
    "营业收入（万元）",
    "从业人员",
    "研发费用（万元）",
    "企业标签",
    "登记状态",
)
KINDS = ("cluster", "future", "service", "ordinary")
SPOIL_KINDS = (
    "bad_check",
    "unknown_district",
    "text_in_number",
    "duplicate_uscc",
    "impossible_date",
)
FORMATS = (".csv", ".parquet", ".xlsx")
XLSX_MAX_ROWS = 200_000
ACTIVE, CLOSED = "存续", "注销"
STATUS_LABELS = pa.array([ACTIVE, CLOSED])
CHUNK_ROWS = 1_000_000  # text columns are built per chunk: bounded memory, no 2 GB string arrays
SCOPES_PER_LINK = 24
POOL_SEED = 20250206  # pools are the same whatever the seed: only rows vary
STREAMS = (
    "segments",
    "districts",
    "uscc",
    "founded",
    "status",
    "revenue",
    "employees",
    "capital",
    "tags",
    "rd",
    "names",
    "codes",
    "scopes",
    "dirty",
)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_CHINESE_DIGITS = "零一二三四五六七八九"
ProgressFn = Callable[[str], None]


# --- the calibration profile --------------------------------------------------------------------


@dataclass(frozen=True)
class Sector:
    """A cluster, future industry, service industry or ordinary sector as the profile shapes it."""

    id: str
    share: float  # of the enterprises of its kind
    words: tuple[str, ...]  # industry words for names (智能科技, 贸易 ...)
    scope: tuple[str, ...] = ()  # business-scope phrases (service and ordinary sectors)
    divisions: tuple[str, ...] = ()  # GB/T 4754 divisions (ordinary sectors)
    revenue_yi: float = 0.0  # clusters: revenue share in 亿元 (synthetic demo figures)


@dataclass(frozen=True)
class Profile:
    raw: dict[str, Any] = field(repr=False)
    clusters: dict[str, Sector]
    future: dict[str, Sector]
    services: dict[str, Sector]
    ordinary: dict[str, Sector]

    def _at(self, path: tuple[str, ...]) -> Any:
        node: Any = self.raw
        for key in path:
            node = node[key]
        return node

    def numbers(self, *path: str) -> dict[str, float]:
        """A table of numbers, e.g. ``numbers("revenue")`` or ``numbers("rd", "cluster")``."""
        return {str(k): float(v) for k, v in self._at(path).items() if isinstance(v, int | float)}

    def texts(self, *path: str) -> tuple[str, ...]:
        return tuple(str(v) for v in self._at(path))

    def text(self, *path: str) -> str:
        return str(self._at(path))


def load_profile(text: str | None = None) -> Profile:
    """The packaged Guangzhou profile, or the profile in ``text`` (TOML)."""
    if text is None:
        text = resources.files("chanye.synth").joinpath("data", PROFILE_FILE).read_text("utf-8")
    raw = tomllib.loads(text)

    def sectors(section: str) -> dict[str, Sector]:
        return {
            key: Sector(
                id=key,
                share=float(value["share"]),
                words=tuple(value.get("words", ())),
                scope=tuple(value.get("scope", ())),
                divisions=tuple(value.get("divisions", ())),
                revenue_yi=float(value.get("revenue_yi", 0.0)),
            )
            for key, value in raw.get(section, {}).items()
        }

    return Profile(
        raw=raw,
        clusters=sectors("clusters"),
        future=sectors("future"),
        services=sectors("services"),
        ordinary=sectors("ordinary"),
    )


# --- keywords: names and scopes must carry only the evidence meant for them ---------------------


class _Keywords:
    """Aho-Corasick over a keyword list, as the classifier matches them (substrings)."""

    def __init__(self, keywords: Iterable[str]) -> None:
        self.words = sorted(set(keywords))
        self._automaton = ahocorasick.Automaton()
        for index, word in enumerate(self.words):
            self._automaton.add_word(word, index)
        if self.words:
            self._automaton.make_automaton()

    def found_in(self, text: str) -> bool:
        return bool(self.words) and any(True for _ in self._automaton.iter(text))

    def clean(self, texts: Iterable[str]) -> list[str]:
        return [t for t in dict.fromkeys(texts) if not self.found_in(t)]


def _join_conflicts(
    lefts: Iterable[str], rights: Iterable[str], keywords: Iterable[str]
) -> tuple[set[str], set[str]]:
    """(lefts, rights) that can meet in a join holding a keyword that begins in the left piece
    and ends in the right one or beyond it.

    Checking every join of a name (city|字号|word|suffix) this way covers every keyword that
    crosses a join, without building the millions of possible names. The caller drops the pieces
    on one side.
    """
    by_tail: dict[str, list[str]] = {}
    for left in dict.fromkeys(lefts):
        for start in range(len(left)):
            by_tail.setdefault(left[start:], []).append(left)
    right_set = set(rights)
    by_head: dict[str, list[str]] = {}
    for right in right_set:
        for end in range(1, len(right) + 1):
            by_head.setdefault(right[:end], []).append(right)
    found_lefts: set[str] = set()
    found_rights: set[str] = set()
    for keyword in keywords:
        for cut in range(1, len(keyword)):
            matching_lefts = by_tail.get(keyword[:cut])
            if not matching_lefts:
                continue
            rest = keyword[cut:]
            matching_rights = by_head.get(rest, []) + [
                rest[:end] for end in range(1, len(rest)) if rest[:end] in right_set
            ]
            if matching_rights:
                found_lefts.update(matching_lefts)
                found_rights.update(matching_rights)
    return found_lefts, found_rights


# --- pools: everything rows are drawn from, built once per system and profile -------------------


@dataclass(frozen=True)
class Segment:
    """Where a row belongs: one chain link of a system industry, or one ordinary sector."""

    kind: str  # cluster / future / service / ordinary
    industry: str  # industry id, or the ordinary sector's id
    link: str  # chain link id; "" for ordinary sectors
    codes: tuple[str, ...]  # 4-digit GB/T 4754 classes
    scopes: tuple[str, ...]
    words: tuple[str, ...]


@dataclass(frozen=True)
class _Flat:
    """Variable-length lists per segment, flattened so that rows pick from them with numpy."""

    pool: pa.Array
    entries: np.ndarray  # pool indices, segment after segment
    start: np.ndarray
    size: np.ndarray

    @classmethod
    def of(cls, lists: Sequence[Sequence[str]]) -> _Flat:
        index: dict[str, int] = {}
        entries = [index.setdefault(text, len(index)) for texts in lists for text in texts]
        size = np.array([len(texts) for texts in lists], dtype=np.int64)
        start = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
        return cls(pa.array(list(index), pa.string()), np.array(entries, np.int64), start, size)

    def pick(self, rng: np.random.Generator, segment: np.ndarray) -> np.ndarray:
        offset = (rng.random(len(segment)) * self.size[segment]).astype(np.int64)
        result: np.ndarray = self.entries[self.start[segment] + offset]
        return result


@dataclass(frozen=True)
class _Pools:
    segments: tuple[Segment, ...]
    kind_shares: dict[str, float]
    industry_shares: dict[str, dict[str, float]]  # kind → industry → share
    cluster_revenue_yi: dict[str, float]
    codes: _Flat
    scopes: _Flat
    words: _Flat
    manufacturing: np.ndarray  # per code-pool entry: section C
    district_codes: tuple[str, ...]
    district_short: tuple[str, ...]
    district_labels: pa.Array  # names, then codes, then the unknown districts of --dirty
    district_weights: np.ndarray
    prefixes: tuple[str, ...]
    prefix_weights: np.ndarray
    names: _NameParts
    tag_labels: pa.Array  # per tag bit mask 0..255


_POOL_CACHE: dict[tuple[str, str], _Pools] = {}


def _pools(system: IndustrialSystem, profile: Profile) -> _Pools:
    key = (system.model_dump_json(), json.dumps(profile.raw, sort_keys=True, default=str))
    if key not in _POOL_CACHE:
        _POOL_CACHE.clear()  # one system at a time is the normal case: keep memory flat
        _POOL_CACHE[key] = _build_pools(system, profile)
    return _POOL_CACHE[key]


def _all_keywords(industries: Iterable[Industry]) -> set[str]:
    return {k for ind in industries for k in ind.all_keywords}


def _build_pools(system: IndustrialSystem, profile: Profile) -> _Pools:
    rng = np.random.default_rng(POOL_SEED)
    every = _Keywords(_all_keywords(ind for _, ind in system.industries()))
    segments = _segments(system, profile, every, rng)
    used = {s.kind for s in segments}
    kind_shares = {k: v for k, v in profile.numbers("kinds").items() if k in used}
    shares = _industry_shares(segments, profile)
    names = _name_parts(system, profile, segments, every)
    districts = system.districts
    if not districts:
        raise ValueError("系统文件没有区划（districts）/ the system file lists no districts")
    weights = profile.numbers("districts")
    dirty_districts = list(profile.texts("dirty", "districts"))
    known = {d.code for d in districts} | {n for d in districts for n in d.names}
    if any(d in known for d in dirty_districts):
        raise ValueError("profile: a 'dirty' district is a real one")
    codes = _Flat.of([s.codes for s in segments])
    sections = catalogue().codes
    manufacturing = np.array([sections[c].section == "C" for c in codes.pool.to_pylist()])
    prefix_weights = profile.numbers("uscc_prefixes")
    return _Pools(
        segments=tuple(segments),
        kind_shares=kind_shares,
        industry_shares=shares,
        cluster_revenue_yi={k: s.revenue_yi for k, s in profile.clusters.items()},
        codes=codes,
        scopes=_Flat.of([s.scopes for s in segments]),
        words=_Flat.of([s.words for s in segments]),
        manufacturing=manufacturing,
        district_codes=tuple(d.code for d in districts),
        district_short=tuple(d.short_name or d.name for d in districts),
        district_labels=pa.array(
            [d.name for d in districts] + [d.code for d in districts] + dirty_districts
        ),
        district_weights=_normalised([weights.get(d.code, 0.0) for d in districts]),
        prefixes=tuple(prefix_weights),
        prefix_weights=_normalised(list(prefix_weights.values())),
        names=names,
        tag_labels=pa.array([_tag_text(mask) for mask in range(1 << len(TAG_IDS))]),
    )


def _normalised(weights: Sequence[float]) -> np.ndarray:
    array = np.asarray(weights, dtype=np.float64)
    if array.sum() <= 0:
        raise ValueError("profile: shares must not all be zero")
    result: np.ndarray = array / array.sum()
    return result


def _tag_text(mask: int) -> str:
    return "、".join(TAG_LABELS[tag][0] for bit, tag in enumerate(TAG_IDS) if mask >> bit & 1)


# --- segments: codes, scopes and name words per chain link or sector ----------------------------


def _segments(
    system: IndustrialSystem, profile: Profile, every: _Keywords, rng: np.random.Generator
) -> list[Segment]:
    generic = {
        "C": every.clean(profile.texts("generic", "manufacturing_scope")),
        "": every.clean(profile.texts("generic", "service_scope")),
    }
    fallback_words = every.clean(profile.texts("generic", "system_name_words"))
    segments = []
    for kind, sectors, industries in (
        ("cluster", profile.clusters, system.clusters),
        ("future", profile.future, system.future_industries),
        ("service", profile.services, system.service_industries),
    ):
        _require_profiled(kind, sectors, industries)
        for industry in industries:
            words = tuple(every.clean(sectors[industry.id].words) or fallback_words)
            if kind == "service":
                segments += _service_segments(system, industry, words, generic, profile, rng)
            else:
                segments += _system_segments(industry, kind, words, generic, profile, rng)
    every_code = [c for _, industry in system.industries() for c in industry.all_codes]
    for sector in profile.ordinary.values():
        classes = [
            c for c in _classes() if c[:2] in sector.divisions and not _covered(c, every_code)
        ]
        if classes:
            phrases = every.clean(sector.scope) or generic[""]
            general = generic["C" if _section(classes[0]) == "C" else ""]
            scopes = _phrase_scopes(rng, [], phrases, general, every)
            words = tuple(every.clean(sector.words) or fallback_words)
            segments.append(Segment("ordinary", sector.id, "", tuple(classes), scopes, words))
    return segments


def _system_segments(
    industry: Industry,
    kind: str,
    words: tuple[str, ...],
    generic: dict[str, list[str]],
    profile: Profile,
    rng: np.random.Generator,
) -> list[Segment]:
    """A cluster's or future industry's links: their codes, and scopes naming their keywords."""
    segments = []
    for link in industry.links:
        classes = _expand(link.codes or industry.codes)
        keywords = link.keywords or industry.keywords
        if classes and keywords:
            scopes = _keyword_scopes(rng, keywords, _section(classes[0]), generic, profile)
            segments.append(Segment(kind, industry.id, link.id, tuple(classes), scopes, words))
    return segments


def _service_segments(
    system: IndustrialSystem,
    industry: Industry,
    words: tuple[str, ...],
    generic: dict[str, list[str]],
    profile: Profile,
    rng: np.random.Generator,
) -> list[Segment]:
    """A service industry's links, kept clear of the clusters and future industries: no code
    under theirs, no keyword of theirs (nor of another service industry) in the scope."""
    system_codes = [
        c for ind in (*system.clusters, *system.future_industries) for c in ind.all_codes
    ]
    others = _all_keywords(i for _, i in system.industries() if i.id != industry.id)
    system_keywords = _all_keywords([*system.clusters, *system.future_industries])
    forbidden = _Keywords(system_keywords | (others - set(industry.all_keywords)))
    phrases = forbidden.clean(profile.services[industry.id].scope) or generic[""]
    segments = []
    for link in industry.links:
        classes = [c for c in _expand(link.codes) if not _covered(c, system_codes)]
        if classes:
            keywords = forbidden.clean(link.keywords or industry.keywords)
            scopes = _phrase_scopes(rng, keywords, phrases, generic[""], forbidden)
            segments.append(Segment("service", industry.id, link.id, tuple(classes), scopes, words))
    return segments


@cache
def _classes() -> tuple[str, ...]:
    return tuple(sorted(c.code for c in catalogue().classes()))


def _section(code: str) -> str:
    return catalogue().codes[code].section


def _require_profiled(kind: str, sectors: dict[str, Sector], industries: list[Industry]) -> None:
    missing = [ind.id for ind in industries if ind.id not in sectors]
    if missing:
        raise ValueError(
            f"画像文件缺少这些{kind}产业：{'、'.join(missing)} / "
            f"the synth profile lacks these {kind} industries: {', '.join(missing)}"
        )


def _expand(link_codes: Iterable[str]) -> list[str]:
    """4-digit classes under the given codes (a 2- or 3-digit code stands for all its classes)."""
    return list(dict.fromkeys(c for code in link_codes for c in _classes() if c.startswith(code)))


def _covered(code: str, industry_codes: Iterable[str]) -> bool:
    return any(code.startswith(prefix) for prefix in industry_codes)


def _keyword_scopes(
    rng: np.random.Generator,
    keywords: Sequence[str],
    section: str,
    generic: dict[str, list[str]],
    profile: Profile,
) -> tuple[str, ...]:
    """Scopes naming 1–3 of the link's keywords, then generic phrases: ``动力电池、电芯的研发、
    生产和销售；货物进出口；技术进出口``."""
    style = "C" if section == "C" else ""
    verbs = profile.texts("generic", "manufacturing_verbs" if style else "service_verbs")
    texts = []
    for _ in range(SCOPES_PER_LINK):
        head = "、".join(_sample(rng, keywords, 1, 3)) + verbs[int(rng.integers(len(verbs)))]
        texts.append("；".join([head, *_sample(rng, generic[style], 1, 2)]))
    return tuple(dict.fromkeys(texts))


def _phrase_scopes(
    rng: np.random.Generator,
    keywords: Sequence[str],
    phrases: Sequence[str],
    generic: Sequence[str],
    forbidden: _Keywords,
) -> tuple[str, ...]:
    """Scopes of service and ordinary firms: their own phrases (and service keywords), checked
    whole against the keywords they must not carry."""
    texts = []
    for _ in range(SCOPES_PER_LINK):
        parts = _sample(rng, keywords, 1, 1) if keywords else []
        parts += _sample(rng, phrases, 1, 3) + _sample(rng, generic, 0, 1)
        texts.append("；".join(dict.fromkeys(parts)))
    clean = forbidden.clean(texts)
    return tuple(clean or forbidden.clean(generic)[:1] or ("其他服务",))


def _sample(rng: np.random.Generator, items: Sequence[str], low: int, high: int) -> list[str]:
    high = min(high, len(items))
    if high <= 0:
        return []
    count = int(rng.integers(min(low, high), high + 1))
    return [items[i] for i in np.sort(rng.choice(len(items), size=count, replace=False))]


def _industry_shares(segments: Sequence[Segment], profile: Profile) -> dict[str, dict[str, float]]:
    by_kind = {
        "cluster": profile.clusters,
        "future": profile.future,
        "service": profile.services,
        "ordinary": profile.ordinary,
    }
    shares: dict[str, dict[str, float]] = {}
    for segment in segments:
        sector = by_kind[segment.kind][segment.industry]
        shares.setdefault(segment.kind, {})[segment.industry] = sector.share
    return shares


# --- names: city + 字号 + industry word + suffix, with no keyword anywhere -----------------------


@dataclass(frozen=True)
class _NameParts:
    """Pieces of company names: [city] 字号 [（city）] industry-word suffix.

    A 字号 is two characters or, for ``four_share`` of names, two halves of two characters
    each drawn independently (星河 + 瑞达): millions of 字号 from a few tens of thousands of pairs.
    """

    before: tuple[str, ...]  # per city form: the text before the 字号 ("广州", "广州市", "")
    after: tuple[str, ...]  # per city form: the text after it ("", "", "（广州）")
    form_weights: np.ndarray
    two: tuple[str, ...]  # two-character 字号
    first: tuple[str, ...]  # first halves of four-character 字号
    second: tuple[str, ...]  # second halves
    four_share: float
    suffixes: tuple[str, ...]
    suffix_weights: np.ndarray


def _name_parts(
    system: IndustrialSystem, profile: Profile, segments: Sequence[Segment], every: _Keywords
) -> _NameParts:
    """Name pieces such that no name holds a keyword and no two choices spell the same name."""
    city = system.system.city.removesuffix("市")
    forms = {f.format(city=city): w for f, w in profile.numbers("names", "city_forms").items()}
    before = [f if not f.startswith("（") else "" for f in forms]
    after = [f if f.startswith("（") else "" for f in forms]
    suffix_weights = profile.numbers("names", "suffixes")
    suffixes = list(suffix_weights)
    words = {w for s in segments for w in s.words}
    if _join_conflicts(words, suffixes, every.words)[0]:
        raise ValueError("profile: an industry word and a suffix together form a keyword")
    chars = _zihao_chars(profile)
    blocked = profile.texts("names", "blocked")
    two = [
        z
        for z in every.clean(a + b for a in chars for b in chars if a != b)
        if not any(word in z for word in blocked)
    ]
    cities = [b for b in before if b]
    unsafe = (
        _join_conflicts(cities, two, every.words)[1] | _join_conflicts(two, words, every.words)[0]
    )
    # 广州 + 市X… = 广州市 + X…, and a 字号 must not spell a city form itself.
    extras = [b[len(a) :] for a in cities for b in cities if a != b and b.startswith(a)]
    unsafe |= {z for z in two if any(z.startswith(x) for x in extras)}
    unsafe |= {z for z in two if any(c.startswith(z) or z.startswith(c) for c in cities)}
    two = [z for z in two if z not in unsafe]
    # Halves must not make a keyword or a brand across their join.
    joining = _join_conflicts(two, two, [*every.words, *blocked])[0]
    # AB + CD贸易有限公司 = ABCD + 贸易有限公司: a second half must not start a tail of a name.
    tails = _tails(after, words, suffixes)
    heads = {tail[:2] for tail in tails if tail[2:] in tails}
    second = [z for z in two if z not in heads]
    return _NameParts(
        before=tuple(before),
        after=tuple(after),
        form_weights=_normalised(list(forms.values())),
        two=tuple(two),
        first=tuple(z for z in two if z not in joining),
        second=tuple(second),
        four_share=float(profile.raw["names"]["four_char_share"]),
        suffixes=tuple(suffixes),
        suffix_weights=_normalised([suffix_weights[s] for s in suffixes]),
    )


def _tails(after: Sequence[str], words: Iterable[str], suffixes: Sequence[str]) -> set[str]:
    """Every text that can follow a 字号; raise if two choices spell the same one."""
    tails: dict[str, tuple[str, str, str]] = {}
    for middle in dict.fromkeys(after):
        for word in sorted(words):
            for suffix in suffixes:
                choice = (middle, word, suffix)
                if tails.setdefault(middle + word + suffix, choice) != choice:
                    raise ValueError(f"profile: {word!r} + a suffix spells another word + suffix")
    return set(tails)


def _zihao_chars(profile: Profile) -> list[str]:
    """Characters for 字号: Faker's zh_CN company prefixes taken apart, plus the profile's own.

    Faker's prefixes are used only as characters, recombined, because several of them are the
    names of real companies.
    """
    from faker.providers.company.zh_CN import Provider

    skipped = set(profile.texts("names", "skip_faker_prefixes"))
    skip_chars = set(profile.text("names", "skip_chars"))
    faker_text = "".join(p for p in Provider.company_prefixes if p not in skipped)
    text = faker_text + profile.text("names", "own_chars")
    return [c for c in dict.fromkeys(text) if _CJK.match(c) and c not in skip_chars]


def _branch(short_name: str, ordinal: int) -> str:
    """``天河分公司``, ``天河第二分公司`` ...: the disambiguator of a repeated name."""
    if ordinal == 0:
        return f"{short_name}分公司"
    return f"{short_name}第{_chinese_number(ordinal + 1)}分公司"


def _chinese_number(value: int) -> str:
    if value < 10:
        return _CHINESE_DIGITS[value]
    if value < 100:
        tens, ones = divmod(value, 10)
        return (
            ("" if tens == 1 else _CHINESE_DIGITS[tens])
            + "十"
            + (_CHINESE_DIGITS[ones] if ones else "")
        )
    return str(value)


# --- rows ---------------------------------------------------------------------------------------


@dataclass
class CityRows:
    """The city as numbers: every column before it becomes text."""

    segment: np.ndarray  # int32 index into pools.segments
    district: np.ndarray  # int32 index into system districts
    district_label: np.ndarray  # int32 index into pools.district_labels
    code: np.ndarray  # int64 index into pools.codes.pool
    scope: np.ndarray
    founded: np.ndarray  # datetime64[D]
    closed: np.ndarray  # bool
    revenue: np.ndarray  # int64, 0.01 万元 (100 yuan)
    employees: np.ndarray  # int64
    capital: np.ndarray  # int64, 0.01 万元
    rd: np.ndarray  # int64, 0.01 万元
    tags: np.ndarray  # uint8 bit mask in TAG_IDS order
    uscc: np.ndarray  # (n, 18) uint8 alphabet indices
    industrial: np.ndarray  # bool: the industry code is in manufacturing (section C)


@dataclass
class SynthCity:
    """A generated city: the file's table and the truth behind it."""

    table: pa.Table
    segments: tuple[Segment, ...]
    segment_of_row: np.ndarray  # int32 index into ``segments``
    spoiled: dict[str, np.ndarray]  # spoil kind → sorted row indices (0-based, header excluded)
    cluster_targets_yuan: dict[str, float]  # revenue each cluster holds, by calibration
    rows: CityRows  # the numbers behind the table, for the city's past (``synth.history``)

    def _per_row(self, values: Sequence[str]) -> np.ndarray:
        result: np.ndarray = np.array(values, dtype=object)[self.segment_of_row]
        return result

    @cached_property
    def intended_kind(self) -> np.ndarray:
        """cluster / future / service / ordinary, per row."""
        return self._per_row([s.kind for s in self.segments])

    @cached_property
    def intended_industry(self) -> np.ndarray:
        """Industry id (any kind) or ordinary sector id, per row."""
        return self._per_row([s.industry for s in self.segments])

    @cached_property
    def intended_cluster(self) -> np.ndarray:
        """Strategic cluster id per row; '' for rows outside the 15 clusters."""
        return self._per_row([s.industry if s.kind == "cluster" else "" for s in self.segments])

    @cached_property
    def intended_link(self) -> np.ndarray:
        """Chain link id (clusters, future and service industries) per row; '' otherwise."""
        return self._per_row([s.link for s in self.segments])


def generate_city(
    n: int,
    seed: int,
    system: IndustrialSystem,
    dirty: float = 0.0,
    profile: Profile | None = None,
    progress: ProgressFn | None = None,
    stands_for: int | None = None,
) -> SynthCity:
    """A city of ``n`` enterprises; the same arguments always give the same city.

    Its clusters' revenue is calibrated to a city of ``stands_for`` enterprises (``n`` when
    not given): the demo's sample stands for the whole city, so its clusters hold the 4万亿."""
    if n < 1:
        raise ValueError("n must be at least 1")
    if not 0.0 <= dirty <= 1.0:
        raise ValueError("dirty must be between 0 and 1")
    if seed < 0:
        raise ValueError("seed must not be negative")
    note = progress or (lambda _step: None)
    profile = profile or _default_profile()
    note("准备词库 / building pools")
    pools = _pools(system, profile)
    streams = dict(
        zip(
            STREAMS,
            (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(STREAMS))),
            strict=True,
        )
    )
    note("生成数值 / drawing numbers")
    rows, targets = _draw_rows(n, streams, pools, profile, stands_for or n)
    spoiled = _choose_spoiled(streams["dirty"], n, dirty)
    note("生成名称 / building names")
    names = _names(streams["names"], rows, pools)
    note("组装表格 / assembling the table")
    overrides = _spoil(streams["dirty"], rows, spoiled, pools, profile)
    table = _table(rows, names, pools, overrides)
    return SynthCity(table, pools.segments, rows.segment, spoiled, targets, rows)


@cache
def _default_profile() -> Profile:
    return load_profile()


def _draw_rows(
    n: int,
    streams: dict[str, np.random.Generator],
    pools: _Pools,
    profile: Profile,
    stands_for: int,
) -> tuple[CityRows, dict[str, float]]:
    segment = _assign_segments(streams["segments"], n, pools)
    kind_index = np.array([KINDS.index(s.kind) for s in pools.segments], np.int8)[segment]
    district = streams["districts"].choice(len(pools.district_codes), n, p=pools.district_weights)
    district = district.astype(np.int32)
    as_code = streams["districts"].random(n) < profile.numbers("files")["district_code_rate"]
    closed = streams["status"].random(n) < profile.numbers("files")["closed_rate"]
    natural = _natural_revenue(streams["revenue"], kind_index, closed, profile)
    founded, natural = _matured(
        streams["founded"], _founded(streams["founded"], n, profile), natural, profile
    )
    revenue, targets = _calibrate(natural, segment, pools, profile, stands_for)
    code = pools.codes.pick(streams["codes"], segment)
    tags = _tags(
        streams["tags"], revenue, kind_index, pools.manufacturing[code], closed, founded, profile
    )
    rows = CityRows(
        segment=segment,
        district=district,
        district_label=(district + np.where(as_code, len(pools.district_codes), 0)).astype(
            np.int32
        ),
        code=code,
        scope=pools.scopes.pick(streams["scopes"], segment),
        founded=founded,
        closed=closed,
        revenue=revenue,
        employees=_employees(streams["employees"], revenue, profile),
        capital=_capital(streams["capital"], revenue, profile),
        rd=_rd(streams["rd"], revenue, kind_index, tags, profile),
        tags=tags,
        uscc=_usccs(streams["uscc"], district, pools),
        industrial=pools.manufacturing[code],
    )
    return rows, targets


def _quota(total: int, shares: Sequence[float]) -> np.ndarray:
    """Whole counts summing to ``total`` in the given proportions (largest remainder)."""
    weights = _normalised(shares) * total
    counts = np.floor(weights).astype(np.int64)
    order = np.argsort(-(weights - counts), kind="stable")
    counts[order[: total - int(counts.sum())]] += 1
    result: np.ndarray = counts
    return result


def _assign_segments(rng: np.random.Generator, n: int, pools: _Pools) -> np.ndarray:
    """Exact counts per kind and industry (so every cluster has firms once there are enough),
    a random chain link within the industry, rows in random order."""
    kinds = list(pools.kind_shares)
    parts = []
    for kind, kind_count in zip(
        kinds, _quota(n, [pools.kind_shares[k] for k in kinds]), strict=True
    ):
        industries = list(pools.industry_shares[kind])
        counts = _quota(int(kind_count), [pools.industry_shares[kind][i] for i in industries])
        if kind == "cluster" and kind_count >= len(industries) and counts.min() == 0:
            counts = 1 + _quota(
                int(kind_count) - len(industries),
                [pools.industry_shares[kind][i] for i in industries],
            )
        for industry, count in zip(industries, counts, strict=True):
            ids = [
                i for i, s in enumerate(pools.segments) if s.kind == kind and s.industry == industry
            ]
            parts.append(np.array(ids, np.int32)[rng.integers(0, len(ids), int(count))])
    segment: np.ndarray = np.concatenate(parts)[rng.permutation(n)]
    return segment


def _founded(rng: np.random.Generator, n: int, profile: Profile) -> np.ndarray:
    """Founding dates, skewed recent: ages follow an exponential truncated at the first date."""
    founded = profile.raw["founded"]
    first, last = np.datetime64(founded["first"], "D"), np.datetime64(founded["last"], "D")
    span = float((last - first) / np.timedelta64(1, "D"))
    scale = float(founded["mean_age_years"]) * 365.25
    u = rng.random(n)
    age = -scale * np.log1p(-u * (1 - np.exp(-span / scale)))
    result: np.ndarray = last - np.minimum(age, span).astype("timedelta64[D]")
    return result


def _matured(
    rng: np.random.Generator, founded: np.ndarray, natural: np.ndarray, profile: Profile
) -> tuple[np.ndarray, np.ndarray]:
    """Older firms are larger, as in a real city: the founding dates go, oldest first, to the
    firms in order of a noisy size score. A firm founded after the list's year (the latest full
    year, whose revenue the list holds) has no revenue in it."""
    score = np.log1p(natural) + profile.numbers("founded")["size_noise"] * rng.standard_normal(
        len(natural)
    )
    matured = np.empty_like(founded)
    matured[np.argsort(-score, kind="stable")] = np.sort(founded)
    after = np.datetime64(f"{int(profile.numbers('history')['last_year']) + 1}-01-01", "D")
    return matured, np.where(matured >= after, 0.0, natural)


def _natural_revenue(
    rng: np.random.Generator, kind_index: np.ndarray, closed: np.ndarray, profile: Profile
) -> np.ndarray:
    """Revenue in 万元 before calibration: lognormal body, Pareto tail, some zeros."""
    p = profile.numbers("revenue")
    n = len(kind_index)
    z = rng.standard_normal(n)
    in_system = kind_index <= KINDS.index("future")
    revenue = p["median_wan"] * np.where(in_system, p["system_size_factor"], 1.0)
    revenue = revenue * np.exp(p["sigma"] * z)
    tail = z > np.quantile(z, 1.0 - p["tail_share"])
    # Giants come mostly from the system's industries: ordinary sectors get a thinner tail.
    alpha = np.where(
        kind_index[tail] == KINDS.index("ordinary"), p["ordinary_tail_alpha"], p["tail_alpha"]
    )
    revenue[tail] *= 1.0 + rng.pareto(alpha)
    np.minimum(revenue, p["max_wan"], out=revenue)
    closed_share = profile.numbers("files")["closed_rate"]
    active_zero = max(
        0.0, (p["zero_rate"] - closed_share * p["closed_zero_rate"]) / (1 - closed_share)
    )
    zero = rng.random(n) < np.where(closed, p["closed_zero_rate"], active_zero)
    revenue[zero] = 0.0
    return revenue


def _calibrate(
    natural: np.ndarray, segment: np.ndarray, pools: _Pools, profile: Profile, n: int
) -> tuple[np.ndarray, dict[str, float]]:
    """Revenue in 0.01 万元, cluster firms rescaled so each cluster hits its share exactly.

    The 15 clusters together make ``cluster_revenue_yuan × n / reference_enterprises``: a sample
    of any size scales up to the city's 4万亿. Sums are kept in whole 0.01 万元, the largest firm
    of each cluster absorbing the rounding, so the file's sums are exact.
    """
    city = profile.raw["city"]
    clusters = list(pools.industry_shares.get("cluster", {}))
    total_units = round(
        float(city["cluster_revenue_yuan"]) / 100 * n / int(city["reference_enterprises"])
    )
    targets = _quota(total_units, [pools.cluster_revenue_yi[c] for c in clusters])
    revenue = np.rint(natural * 100).astype(np.int64)
    cluster_of_segment = np.array(
        [clusters.index(s.industry) if s.kind == "cluster" else -1 for s in pools.segments],
        np.int64,
    )
    cluster = cluster_of_segment[segment]
    rows = np.flatnonzero(cluster >= 0)
    group = cluster[rows]
    weight = natural[rows]
    sums = np.bincount(group, weights=weight, minlength=len(clusters))
    weight = np.where(sums[group] > 0, weight, 1.0)  # a cluster whose firms all lack revenue
    revenue[rows] = scale_to_totals(weight, group, targets)
    # A cluster without firms (only when n is below about a hundred) cannot hold its share.
    present = np.bincount(group, minlength=len(clusters)) > 0
    held_yuan = np.where(present, targets, 0) * 100.0
    return revenue, {c: float(t) for c, t in zip(clusters, held_yuan, strict=True)}


def scale_to_totals(weight: np.ndarray, group: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Whole numbers in proportion to ``weight`` within each group, summing to the group's
    target exactly: the largest of each group absorbs the rounding. A group whose weights are
    all zero gets nothing."""
    groups = len(targets)
    sums = np.bincount(group, weights=weight, minlength=groups)
    scaled: np.ndarray = np.floor(weight * (targets / np.where(sums > 0, sums, 1.0))[group])
    scaled = scaled.astype(np.int64)
    held = np.bincount(group, weights=scaled, minlength=groups).astype(np.int64)
    if len(group):
        order = np.lexsort((scaled, group))
        last = order[np.flatnonzero(np.r_[group[order][1:] != group[order][:-1], True])]
        scaled[last] += np.where(sums[group[last]] > 0, targets[group[last]] - held[group[last]], 0)
    return scaled


def _employees(rng: np.random.Generator, revenue: np.ndarray, profile: Profile) -> np.ndarray:
    """People scale with revenue to a power below one (giants are more productive)."""
    p = profile.numbers("employees")
    wan = revenue / 100
    noise = np.exp(p["sigma"] * rng.standard_normal(len(wan)))
    working = p["at_100_wan"] * np.power(wan / 100, p["elasticity"]) * noise
    working = np.clip(np.rint(working), 1, p["max"])
    idle = rng.integers(0, int(p["idle_max"]) + 1, len(wan))
    result: np.ndarray = np.where(wan > 0, working, idle).astype(np.int64)
    return result


def _capital(rng: np.random.Generator, revenue: np.ndarray, profile: Profile) -> np.ndarray:
    """Registered capital in 0.01 万元, tied to revenue, rounded to two significant digits as
    founders write it (50, 100, 1200 万元 ...)."""
    p = profile.numbers("capital")
    wan = revenue / 100
    noise = np.exp(p["sigma"] * rng.standard_normal(len(wan)))
    scaled = p["at_100_wan"] * np.power(np.maximum(wan, 1e-9) / 100, p["elasticity"])
    capital = np.where(wan > 0, scaled, p["idle_median_wan"]) * noise
    capital = np.clip(capital, p["min_wan"], p["max_wan"])
    magnitude = 10.0 ** (np.floor(np.log10(capital)) - 1)
    result: np.ndarray = np.rint(np.rint(capital / magnitude) * magnitude * 100).astype(np.int64)
    return result


def _rd(
    rng: np.random.Generator,
    revenue: np.ndarray,
    kind_index: np.ndarray,
    tags: np.ndarray,
    profile: Profile,
) -> np.ndarray:
    """R&D expense in 0.01 万元: a share of revenue that depends on the kind of firm."""
    n = len(revenue)
    zero, median, sigma = (np.empty(n) for _ in range(3))
    for index, kind in enumerate(KINDS):
        p = profile.numbers("rd", kind)
        mine = kind_index == index
        zero[mine], median[mine], sigma[mine] = p["zero"], p["median"], p["sigma"]
    limits = profile.numbers("rd", "limits")
    ratio = median * np.exp(sigma * rng.standard_normal(n))
    ratio[rng.random(n) < zero] = 0.0
    innovative = (tags & _tag_bits("high_tech", "specialized_sme", "little_giant")) > 0
    ratio[innovative] = np.maximum(ratio[innovative], limits["tagged_min"])
    ratio = np.minimum(ratio, limits["max"])
    result: np.ndarray = np.floor(revenue * ratio).astype(np.int64)
    return result


def _tag_bits(*tags: str) -> int:
    return sum(1 << TAG_IDS.index(tag) for tag in tags)


def _top(score: np.ndarray, eligible: np.ndarray, count: int) -> np.ndarray:
    """Mask of the ``count`` eligible rows with the highest score."""
    mask = np.zeros(len(score), dtype=bool)
    candidates = np.flatnonzero(eligible)
    count = min(count, len(candidates))
    if count > 0:
        best = np.argpartition(-score[candidates], count - 1)[:count]
        mask[candidates[best]] = True
    return mask


def _tags(
    rng: np.random.Generator,
    revenue: np.ndarray,
    kind_index: np.ndarray,
    manufacturing: np.ndarray,
    closed: np.ndarray,
    founded: np.ndarray,
    profile: Profile,
) -> np.ndarray:
    """Tags at the profile's rates, given to the firms a city would give them to: the larger
    and the more technological, the likelier; chain leaders only the largest cluster firms."""
    n = len(revenue)
    rates = profile.numbers("tags")
    count = {tag: round(rates.get(tag, 0.0) * n) for tag in TAG_IDS}
    size = np.log1p(revenue / 100)
    live = ~closed & (revenue > 0)
    cluster = kind_index == KINDS.index("cluster")
    system = kind_index <= KINDS.index("future")
    tech_bonus = np.select([system, kind_index == KINDS.index("service")], [3.0, 0.5], 0.0)
    noise = rng.standard_normal((5, n))
    chosen = {
        # 规上 is a threshold, not a quota: every live firm at it in the list's year.
        "above_scale": live & (revenue >= rates["above_scale_yuan"] / 100),
        "listed": _top(size + 0.5 * noise[1], live, count["listed"]),
        "high_tech": _top(0.3 * size + tech_bonus + noise[2], live, count["high_tech"]),
        "chain_leader": _top(size, live & cluster, count["chain_leader"]),
        "single_champion": _top(size, live & cluster & manufacturing, count["single_champion"]),
    }
    # 专精特新 are small and medium firms: below 4亿 revenue, technological, growing.
    sme = live & (revenue < 40_000 * 100) & (revenue >= 500 * 100)
    chosen["specialized_sme"] = _top(tech_bonus + noise[3], sme, count["specialized_sme"])
    chosen["little_giant"] = _top(size, chosen["specialized_sme"], count["little_giant"])
    young = founded >= np.datetime64("2015-01-01")
    unicorn_pool = live & system & young & ~chosen["listed"]
    chosen["unicorn"] = _top(size + 0.3 * noise[4], unicorn_pool, count["unicorn"])
    tags = np.zeros(n, dtype=np.uint8)
    for tag, mask in chosen.items():
        tags[mask] |= np.uint8(_tag_bits(tag))
    return tags


def _usccs(rng: np.random.Generator, district: np.ndarray, pools: _Pools) -> np.ndarray:
    prefix = rng.choice(len(pools.prefixes), len(district), p=pools.prefix_weights)
    prefix_digits = uscc.digits(np.array(pools.prefixes), 2)
    district_digits = uscc.digits(np.array(pools.district_codes), 6)
    heads = np.hstack([prefix_digits[prefix], district_digits[district]])
    head_ids = prefix.astype(np.int64) * len(pools.district_codes) + district
    return uscc.random_uscc_indices(rng, heads, head_ids)


def _names(rng: np.random.Generator, rows: CityRows, pools: _Pools) -> pa.Array:
    """Company names, unique in the file: a repeated name gets a branch suffix (天河分公司)."""
    parts, n = pools.names, len(rows.segment)
    form = rng.choice(len(parts.before), n, p=parts.form_weights)
    four = rng.random(n) < parts.four_share
    firsts, seconds = len(parts.two) + len(parts.first), len(parts.second) + 1
    first = np.where(
        four,
        len(parts.two) + rng.integers(0, len(parts.first), n),
        rng.integers(0, len(parts.two), n),
    )
    second = np.where(four, 1 + rng.integers(0, len(parts.second), n), 0)  # 0: no second half
    word = pools.words.pick(rng, rows.segment)
    suffix = rng.choice(len(parts.suffixes), n, p=parts.suffix_weights)
    names = pc.binary_join_element_wise(
        pa.array(parts.before).take(form),
        pa.array(parts.two + parts.first).take(first),
        pa.array(("", *parts.second)).take(second),
        pa.array(parts.after).take(form),
        pools.words.pool.take(word),
        pa.array(parts.suffixes).take(suffix),
        "",
    )
    # Pieces spell names unambiguously (see _name_parts): equal pieces ⇔ equal names, so repeats
    # are found by sorting one integer per row.
    key = ((form * firsts + first) * seconds + second) * len(pools.words.pool) + word
    key = key * len(parts.suffixes) + suffix
    rank = _repeat_rank(key)
    repeated = np.flatnonzero(rank > 0)
    if len(repeated) == 0:
        return names
    # A repeat is a branch in its own district; repeats in the same district are numbered.
    district = rows.district[repeated]
    ordinal = _repeat_rank(key[repeated] * len(pools.district_codes) + district)
    branches = [
        _branch(pools.district_short[d], int(o)) for d, o in zip(district, ordinal, strict=True)
    ]
    mask = np.zeros(n, dtype=bool)
    mask[repeated] = True
    suffixed = pc.binary_join_element_wise(names.filter(mask), pa.array(branches), "")
    return pc.replace_with_mask(names, pa.array(mask), suffixed)


def _repeat_rank(keys: np.ndarray) -> np.ndarray:
    """0 for the first occurrence of each key, 1 for the second, ... (in row order)."""
    rank = np.zeros(len(keys), dtype=np.int64)
    ordered = np.sort(keys)
    repeated_keys = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    if len(repeated_keys) == 0:
        return rank
    rows = np.flatnonzero(np.isin(keys, repeated_keys))  # few: sort only these
    order = np.argsort(keys[rows], kind="stable")
    grouped = keys[rows][order]
    position = np.arange(len(rows))
    first = np.maximum.accumulate(np.where(np.r_[True, grouped[1:] != grouped[:-1]], position, 0))
    rank[rows[order]] = position - first
    return rank


# --- dirty rows ---------------------------------------------------------------------------------


def _choose_spoiled(rng: np.random.Generator, n: int, dirty: float) -> dict[str, np.ndarray]:
    """round(n × dirty) rows, the five kinds in turn, each row spoiled one way only."""
    rows = rng.permutation(n)[: round(n * dirty)]
    return {kind: np.sort(rows[i :: len(SPOIL_KINDS)]) for i, kind in enumerate(SPOIL_KINDS)}


Overrides = dict[str, tuple[np.ndarray, list[str]]]  # header → (sorted rows, texts)


def _spoil(
    rng: np.random.Generator,
    rows: CityRows,
    spoiled: dict[str, np.ndarray],
    pools: _Pools,
    profile: Profile,
) -> Overrides:
    """Spoil the chosen rows in place (USCC, district) or as text overrides (revenue, date)."""
    bad = spoiled["bad_check"]
    rows.uscc[bad, 17] = (rows.uscc[bad, 17] + rng.integers(1, 31, len(bad))) % 31
    duplicates = spoiled["duplicate_uscc"]
    if len(duplicates):
        # Copy a USCC that is itself valid, from a row whose USCC is not spoiled.
        sources = np.ones(len(rows.segment), dtype=bool)
        sources[bad] = sources[duplicates] = False
        candidates = np.flatnonzero(sources)
        rows.uscc[duplicates] = rows.uscc[
            candidates[rng.integers(0, len(candidates), len(duplicates))]
        ]
    unknown = spoiled["unknown_district"]
    first_dirty = 2 * len(pools.district_codes)
    dirty_count = len(pools.district_labels) - first_dirty
    rows.district_label[unknown] = first_dirty + rng.integers(0, dirty_count, len(unknown))
    number_rows = spoiled["text_in_number"]
    templates = profile.texts("dirty", "number_texts")
    numbers = [
        templates[t].format(v=int(r // 100) or 1)
        for t, r in zip(
            rng.integers(0, len(templates), len(number_rows)),
            rows.revenue[number_rows],
            strict=True,
        )
    ]
    date_rows = spoiled["impossible_date"]
    date_templates = profile.texts("dirty", "bad_dates")
    years = rows.founded[date_rows].astype("datetime64[Y]").astype(np.int64) + 1970
    dates = [
        date_templates[t].format(y=int(y))
        for t, y in zip(rng.integers(0, len(date_templates), len(date_rows)), years, strict=True)
    ]
    return {HEADERS[7]: (number_rows, numbers), HEADERS[5]: (date_rows, dates)}


# --- the table ----------------------------------------------------------------------------------


def _schema(text_revenue: bool) -> pa.Schema:
    types = [pa.string()] * 6 + [
        pa.float64(),
        pa.string() if text_revenue else pa.float64(),
        pa.int64(),
        pa.float64(),
        pa.string(),
        pa.string(),
    ]
    return pa.schema(list(zip(HEADERS, types, strict=True)))


def _table(rows: CityRows, names: pa.Array, pools: _Pools, overrides: Overrides) -> pa.Table:
    n = len(rows.segment)
    schema = _schema(text_revenue=len(overrides[HEADERS[7]][0]) > 0)
    batches = [
        _batch(rows, names, pools, overrides, schema, start, min(start + CHUNK_ROWS, n))
        for start in range(0, n, CHUNK_ROWS)
    ]
    return pa.Table.from_batches(batches, schema)


def _batch(
    rows: CityRows,
    names: pa.Array,
    pools: _Pools,
    overrides: Overrides,
    schema: pa.Schema,
    start: int,
    stop: int,
) -> pa.RecordBatch:
    part = slice(start, stop)
    ascii_codes = np.ascontiguousarray(uscc.to_ascii(rows.uscc[part]))
    columns = {
        HEADERS[0]: _fixed_width_strings(ascii_codes),
        HEADERS[1]: names.slice(start, stop - start),
        HEADERS[2]: pools.district_labels.take(rows.district_label[part]),
        HEADERS[3]: pools.codes.pool.take(rows.code[part]),
        HEADERS[4]: pools.scopes.pool.take(rows.scope[part]),
        HEADERS[5]: pa.array(rows.founded[part]).cast(pa.string()),
        HEADERS[6]: pa.array(rows.capital[part] / 100),
        HEADERS[7]: pa.array(rows.revenue[part] / 100),
        HEADERS[8]: pa.array(rows.employees[part]),
        HEADERS[9]: pa.array(rows.rd[part] / 100),
        HEADERS[10]: pools.tag_labels.take(rows.tags[part]),
        HEADERS[11]: STATUS_LABELS.take(rows.closed[part].astype(np.int8)),
    }
    for header, (spoiled_rows, texts) in overrides.items():
        columns[header] = _override(columns[header], spoiled_rows, texts, start, stop)
    arrays = [columns[h].cast(schema.field(h).type) for h in HEADERS]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _fixed_width_strings(ascii_rows: np.ndarray) -> pa.Array:
    """A string array straight from an (n, width) ASCII matrix: no per-value conversion."""
    count, width = ascii_rows.shape
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int32)
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(ascii_rows.tobytes())]
    return pa.Array.from_buffers(pa.string(), count, buffers)


def _override(
    column: pa.Array, spoiled_rows: np.ndarray, texts: list[str], start: int, stop: int
) -> pa.Array:
    low, high = np.searchsorted(spoiled_rows, [start, stop])
    if low == high:
        return column
    mask = np.zeros(stop - start, dtype=bool)
    mask[spoiled_rows[low:high] - start] = True
    return pc.replace_with_mask(column.cast(pa.string()), pa.array(mask), pa.array(texts[low:high]))


# --- writing ------------------------------------------------------------------------------------


class CityFileError(ReasonRefusedError, ValueError):
    """The city cannot be written as asked; ``zh`` and ``en`` say why."""


def check_output(out: Path, n: int) -> None:
    """Refuse an output the writer cannot produce, before any work is done."""
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise CityFileError(
            f"不支持的输出格式“{out.suffix or '（无扩展名）'}”，请用 .csv、.parquet 或 .xlsx",
            f"unsupported output type {out.suffix!r}: use .csv, .parquet or .xlsx",
        )
    if suffix == ".xlsx" and n > XLSX_MAX_ROWS:
        raise CityFileError(
            f"XLSX 最多 {XLSX_MAX_ROWS:,} 行（要求 {n:,} 行），更大的城市请用 .csv 或 .parquet",
            f"XLSX holds at most {XLSX_MAX_ROWS:,} rows ({n:,} asked): use .csv or .parquet",
        )


def write_city(city: SynthCity, out: Path) -> None:
    """Write the city's table to ``out`` (.csv, .parquet or .xlsx), whole or not at all."""
    check_output(out, city.table.num_rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target, then renamed over it: a reader never sees half a file.
    temporary = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        suffix = out.suffix.lower()
        if suffix == ".csv":
            options = pa_csv.WriteOptions(quoting_style="needed")
            pa_csv.write_csv(city.table, str(temporary), options)
        elif suffix == ".parquet":
            pq.write_table(city.table, str(temporary), compression="zstd")
        else:
            temporary.write_bytes(_xlsx_bytes(city.table))
        temporary.replace(out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _xlsx_bytes(table: pa.Table) -> bytes:
    """An XLSX workbook (openpyxl write-only), made byte-stable: openpyxl stamps the time of
    saving into the document properties and the zip entries, which would break determinism."""
    from openpyxl import Workbook

    fixed = dt.datetime(2000, 1, 1)
    workbook = Workbook(write_only=True)
    workbook.properties.created = fixed
    sheet = workbook.create_sheet("企业名录")
    sheet.append(list(HEADERS))
    columns = [_cell_values(table.column(h), h) for h in HEADERS]
    for values in zip(*columns, strict=True):
        sheet.append(list(values))
    return _stable_zip(workbook_bytes(workbook), fixed)


def _cell_values(column: pa.ChunkedArray, header: str) -> list[Any]:
    values: list[Any] = column.to_pylist()
    if header == HEADERS[7] and pa.types.is_string(column.type):
        # Revenue became text only for its spoiled rows: the others stay numbers in the sheet.
        values = [_number_or_text(v) for v in values]
    return values


def _number_or_text(value: str | None) -> float | str | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return value


def _stable_zip(data: bytes, fixed: dt.datetime) -> bytes:
    stamp = fixed.strftime("%Y-%m-%dT%H:%M:%SZ")
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp.encode(), content
                )
            target.writestr(
                zipfile.ZipInfo(info.filename, fixed.timetuple()[:6]), content, zipfile.ZIP_DEFLATED
            )
    return buffer.getvalue()
