"""Read an industrial-system file (TOML) and check it, with messages a person can act on.

Every problem names the file, the key path (``clusters[icv-nev].links[2].codes[0]``) and what is
wrong, in Chinese and English. All problems in a file are reported at once, not just the first.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from chanye.problems import FileRefusedError, Problem
from chanye.system.industry_codes import IndustryCatalogue, catalogue
from chanye.system.model import IndustrialSystem, Industry

DEFAULT_SYSTEM_FILE = "guangzhou_12218.toml"

# Pydantic's error types, said in Chinese; the English text comes from pydantic itself.
_ZH_BY_ERROR_TYPE = {
    "missing": "缺少必填项",
    "extra_forbidden": "未知的键",
    "greater_than": "数值必须大于下限",
    "greater_than_equal": "数值不得小于下限",
    "less_than_equal": "数值超出上限",
    "string_pattern_mismatch": "格式不符（标识只能用小写字母、数字和连字符）",
    "string_too_short": "不能为空",
    "too_short": "列表不能为空",
    "literal_error": "取值不在允许范围内",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "string_type": "应为文本",
    "list_type": "应为列表",
    "bool_type": "应为 true 或 false",
    "date_type": "应为日期（如 2025-02-06）",
    "date_from_datetime_parsing": "应为日期（如 2025-02-06）",
    "model_type": "应为表（table）",
    "model_attributes_type": "应为表（table）",
}


class SystemFileError(FileRefusedError[Problem]):
    """A system file that cannot be used; ``problems`` lists everything wrong with it."""


def default_system_text() -> str:
    """The TOML text of the system file shipped with chanye (Guangzhou 12218)."""
    return resources.files("chanye.system").joinpath("data", DEFAULT_SYSTEM_FILE).read_text("utf-8")


@cache
def load_default_system() -> IndustrialSystem:
    """The packaged system, parsed once per process (the model is frozen, so sharing is safe)."""
    return parse_system(default_system_text(), DEFAULT_SYSTEM_FILE)


def load_system(path: Path | str) -> IndustrialSystem:
    """Read and check the system file at ``path``; raise SystemFileError naming every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SystemFileError(
            [Problem("", "文件不存在", "file not found", file=str(path))]
        ) from None
    except UnicodeDecodeError as exc:
        raise SystemFileError(
            [Problem("", "文件不是 UTF-8 编码", f"file is not UTF-8: {exc.reason}", file=str(path))]
        ) from None
    return parse_system(text, str(path))


def parse_system(text: str, file: str) -> IndustrialSystem:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SystemFileError([Problem("", "TOML 语法错误", str(exc), file=file)]) from None
    try:
        system = IndustrialSystem.model_validate(raw)
    except ValidationError as exc:
        raise SystemFileError([_from_pydantic(file, raw, err) for err in exc.errors()]) from None
    problems = [Problem(path, zh, en, file=file) for path, zh, en in check_references(system)]
    if problems:
        raise SystemFileError(problems)
    return system


def _from_pydantic(file: str, raw: dict[str, Any], error: ErrorDetails) -> Problem:
    zh = _ZH_BY_ERROR_TYPE.get(error["type"], "取值无效")
    en = error["msg"]
    if error["type"] == "extra_forbidden":
        en = "unknown key"
    elif error["type"] not in ("missing",) and "input" in error:
        en = f"{en} (got {error['input']!r})"
    return Problem(key_path(raw, error["loc"]), zh, en, file=file)


def key_path(raw: Any, loc: Iterable[int | str]) -> str:
    """Render a location such as ('clusters', 0, 'links', 2, 'codes', 1) as a readable key path.

    List items that carry an ``id`` are named by it, so that the path survives reordering:
    ``clusters[icv-nev].links[icv-nev-battery].codes[1]``.
    """
    text = ""
    node = raw
    for part in loc:
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and part < len(node) else None
            label = item.get("id") if isinstance(item, dict) else None
            text += f"[{label}]" if isinstance(label, str) and label else f"[{part}]"
            node = item
        else:
            text += f".{part}" if text else part
            node = node.get(part) if isinstance(node, dict) else None
    return text


Finding = tuple[str, str, str]  # (key path, Chinese, English)


def check_references(
    system: IndustrialSystem, codes: IndustryCatalogue | None = None
) -> list[Finding]:
    """What the schema cannot see: duplicate ids, dangling references, unknown industry codes."""
    codes = codes or catalogue()
    return [
        *_duplicate_ids(system),
        *_dangling_references(system),
        *_unknown_codes(system, codes),
        *_year_order(system),
        *_districts_outside_city(system),
        *_ambiguous_qualification_names(system),
    ]


def _ambiguous_qualification_names(system: IndustrialSystem) -> Iterator[Finding]:
    """A label or alias two kinds share would make a qualifications file ambiguous."""
    owner: dict[str, str] = {}
    for kind in system.qualification_kinds:
        for name in dict.fromkeys(kind.names):
            first = owner.setdefault(name, kind.id)
            if first != kind.id:
                yield (
                    f"qualification_kinds[{kind.id}].aliases",
                    f"名称“{name}”已用于资质“{first}”",
                    f"name {name!r} is already used by qualification kind {first!r}",
                )


def _districts_outside_city(system: IndustrialSystem) -> Iterator[Finding]:
    prefix = system.system.city_code[:4]
    for i, district in enumerate(system.districts):
        if not district.code.startswith(prefix):
            yield (
                f"districts[{i}].code",
                f"区划代码“{district.code}”不属于本市（{system.system.city_code}）",
                f"district code {district.code!r} is not in city {system.system.city_code}",
            )


def _sections(system: IndustrialSystem) -> Iterator[tuple[str, list[Industry]]]:
    yield "clusters", system.clusters
    yield "future_industries", system.future_industries
    yield "service_industries", system.service_industries


def _duplicate_ids(system: IndustrialSystem) -> Iterator[Finding]:
    groups: dict[str, list[tuple[str, str]]] = {
        "sources": [(f"sources[{s.id}]", s.id) for s in system.sources],
        "tiers": [(f"tiers[{t.id}]", t.id) for t in system.tiers],
        "directions": [(f"directions[{d.id}]", d.id) for d in system.directions],
        "industries": [
            (f"{section}[{ind.id}]", ind.id)
            for section, industries in _sections(system)
            for ind in industries
        ],
        "chain links": [
            (f"{section}[{ind.id}].links[{link.id}]", link.id)
            for section, industries in _sections(system)
            for ind in industries
            for link in ind.links
        ],
        "offices": [
            (f"governance.offices[{o.id}]", o.id)
            for o in (system.governance.offices if system.governance else [])
        ],
        "districts": [(f"districts[{i}].code", d.code) for i, d in enumerate(system.districts)],
        "qualification kinds": [
            (f"qualification_kinds[{k.id}]", k.id) for k in system.qualification_kinds
        ],
    }
    for kind, entries in groups.items():
        counts = Counter(identifier for _, identifier in entries)
        reported: set[str] = set()
        for path, identifier in entries:
            if counts[identifier] > 1 and identifier not in reported:
                reported.add(identifier)
                yield (
                    path if path.endswith(".code") else f"{path}.id",
                    f"标识“{identifier}”重复（{counts[identifier]} 处）",
                    f"duplicate id {identifier!r} among {kind} ({counts[identifier]} times)",
                )


def _dangling_references(system: IndustrialSystem) -> Iterator[Finding]:
    sources = {s.id for s in system.sources}
    tiers = {t.id for t in system.tiers}
    groups = {g.id for g in system.service_groups}
    industries = {ind.id for _, ind in system.industries()}
    offices = {o.id for o in (system.governance.offices if system.governance else [])}

    def unknown(path: str, what_zh: str, what_en: str, value: str, known: set[str]) -> Finding:
        listing = ", ".join(sorted(known)) or "—"
        return (
            path,
            f"未知的{what_zh}“{value}”（已定义：{listing}）",
            f"unknown {what_en} {value!r} (known: {listing})",
        )

    refs: list[tuple[str, str | None]] = [
        ("requirement.source", system.requirement.source),
        *((f"directions[{d.id}].source", d.source) for d in system.directions),
        *((f"targets[{t.id}].source", t.source) for t in system.targets),
        *((f"figures[{f.id}].source", f.source) for f in system.figures),
        *((f"qualification_kinds[{k.id}].source", k.source) for k in system.qualification_kinds),
    ]
    if system.governance:
        refs.append(("governance.source", system.governance.source))
        refs += [
            (f"governance.offices[{o.id}].source", o.source) for o in system.governance.offices
        ]
    for section, members in _sections(system):
        for ind in members:
            base = f"{section}[{ind.id}]"
            refs.append((f"{base}.source", ind.source))
            if ind.target:
                refs.append((f"{base}.target.source", ind.target.source))
            if ind.tier is not None and ind.tier not in tiers:
                yield unknown(f"{base}.tier", "梯队", "tier", ind.tier, tiers)
            if ind.group is not None and ind.group not in groups:
                yield unknown(f"{base}.group", "服务业分组", "service group", ind.group, groups)
            office = ind.accountability.office if ind.accountability else None
            if office is not None and office not in offices:
                yield unknown(
                    f"{base}.accountability.office", "产业办公室", "office", office, offices
                )
    for path, source in refs:
        if source is not None and source not in sources:
            yield unknown(path, "来源", "source", source, sources)
    for target in system.targets:
        for i, ind_id in enumerate(target.industries):
            if ind_id not in industries:
                yield unknown(
                    f"targets[{target.id}].industries[{i}]", "产业", "industry", ind_id, industries
                )
    for office_model in system.governance.offices if system.governance else []:
        for i, ind_id in enumerate(office_model.industries):
            if ind_id not in industries:
                yield unknown(
                    f"governance.offices[{office_model.id}].industries[{i}]",
                    "产业",
                    "industry",
                    ind_id,
                    industries,
                )


def _unknown_codes(system: IndustrialSystem, codes: IndustryCatalogue) -> Iterator[Finding]:
    for section, members in _sections(system):
        for ind in members:
            located = [(f"{section}[{ind.id}].codes", ind.codes)]
            located += [(f"{section}[{ind.id}].links[{lk.id}].codes", lk.codes) for lk in ind.links]
            for path, code_list in located:
                for i, code in enumerate(code_list):
                    if code not in codes:
                        yield (
                            f"{path}[{i}]",
                            f"“{code}”不是 GB/T 4754-2017 国民经济行业代码",
                            f"{code!r} is not a GB/T 4754-2017 industry code",
                        )


def _year_order(system: IndustrialSystem) -> Iterator[Finding]:
    info = system.system
    if info.target_year <= info.baseline_year:
        yield (
            "system.target_year",
            f"目标年份 {info.target_year} 应晚于基期年份 {info.baseline_year}",
            f"target year {info.target_year} must be after baseline year {info.baseline_year}",
        )
    for target in system.targets:
        if target.target_year <= target.baseline_year:
            yield (
                f"targets[{target.id}].target_year",
                f"目标年份 {target.target_year} 应晚于基期年份 {target.baseline_year}",
                f"target year {target.target_year} must be after baseline year "
                f"{target.baseline_year}",
            )
