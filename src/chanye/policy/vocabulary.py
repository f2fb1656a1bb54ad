"""The words a policy compares with must be the system's: a tag or qualification kind, a cluster,
a district code. ``"高新技术企业" in enterprise.tags``, ``"low-altitude" in enterprise.clusters``
and ``enterprise.district_code == "黄埔区"`` are valid CEL and match nobody, silently; here they
are refused, naming the condition and suggesting the id or code meant (``high_tech``,
``low-altitude-aerospace``, ``440112``)."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from chanye.policy.cel import Node
from chanye.policy.history import HistoryField
from chanye.policy.loader import PolicyProblem
from chanye.policy.model import Policy
from chanye.registry.schema import TAG_LABELS
from chanye.system.model import IndustrialSystem


@dataclass(frozen=True)
class Words:
    """What one kind of value may be: the ids, and every spelling people use for each."""

    what: str  # 企业标签或资质 / 产业 / 区划代码
    spellings: dict[str, str]  # spelling → id (the ids themselves included)

    def suggestion(self, written: str) -> str:
        if written in self.spellings:
            return f"，应写作 {self.spellings[written]}"
        ids = sorted(set(self.spellings.values()))
        near = difflib.get_close_matches(written, [*self.spellings], n=1, cutoff=0.5)
        started = [i for i in ids if i.startswith(written) or written.startswith(i)]
        if started:
            return f"，是否指 {started[0]}？"
        if near:
            return f"，是否指 {self.spellings[near[0]]}？"
        return f"（可用：{'、'.join(ids[:20])}{' 等' if len(ids) > 20 else ''}）"


def words_of(system: IndustrialSystem) -> dict[str, Words]:
    """For each field compared with words, what the system allows."""
    kinds: dict[str, str] = {}
    for tag, labels in TAG_LABELS.items():
        kinds.update({tag: tag, **dict.fromkeys(labels, tag)})
    for kind in system.qualification_kinds:
        kinds.update(dict.fromkeys(kind.names, kind.id))
    industries: dict[str, str] = {}
    for _, industry in system.industries():
        names = [industry.id, industry.name, industry.short_name or industry.name]
        industries.update(dict.fromkeys(names, industry.id))
    districts: dict[str, str] = {}
    for district in system.districts:
        districts.update(dict.fromkeys([district.code, *district.names], district.code))
    return {
        "tags": Words("企业标签或资质", kinds),
        "clusters": Words("产业", industries),
        "district_code": Words("区划代码", districts),
    }


def _compared(node: Node, params: dict[str, object]) -> Iterator[tuple[str, str]]:
    """(field, word) for each word an expression compares a field with."""
    for part in node.walk():
        if part.kind == "in" and part.args[1].kind == "field":
            yield from ((part.args[1].op, w) for w in _words(part.args[0], params))
        elif part.kind == "in" and part.args[0].kind == "field":
            yield from ((part.args[0].op, w) for w in _words(part.args[1], params))
        elif part.kind == "compare" and part.op in ("==", "!="):
            left, right = part.args
            if left.kind == "field":
                yield from ((left.op, w) for w in _words(right, params))
            elif right.kind == "field":
                yield from ((right.op, w) for w in _words(left, params))
        elif part.kind == "field" and (call := HistoryField.parse(part.op)) and call.kind:
            yield "tags", call.kind


def _words(node: Node, params: dict[str, object]) -> list[str]:
    if node.kind == "literal" and isinstance(node.value, str):
        return [node.value]
    if node.kind == "list":
        return [str(item.value) for item in node.args if isinstance(item.value, str)]
    if node.kind == "param":
        value = params.get(node.op)
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [v for v in value if isinstance(v, str)]
    return []


def unknown_words(policies: Sequence[Policy], system: IndustrialSystem) -> list[PolicyProblem]:
    """Each word of each policy that is not the system's, at the line of the condition's
    ``when`` (of an instalment's look-back), with what is wrong and what to write instead."""
    return [
        PolicyProblem(policy.source_name, line or 1, 5, f"条件 {condition}：{message}")
        for policy in policies
        for condition, line, message in words_not_known(policy, system)
    ]


def words_not_known(policy: Policy, system: IndustrialSystem) -> list[tuple[str, int, str]]:
    """(condition id, line of its ``when``, what is wrong and what to write) for each word not
    the system's."""
    allowed = words_of(system)
    found = []
    checked = [(c.id, c.line, c.node) for c in policy.conditions]
    checked += [  # the look-backs of later instalments are conditions too
        (look_back_id(n), i.line, i.node)
        for n, i in enumerate(policy.schedule, 1)
        if i.node is not None
    ]
    for condition_id, line, node in checked:
        for field, word in _compared(node, policy.parameters):
            words = allowed.get(field)
            if words is None or word in set(words.spellings.values()):
                continue
            found.append(
                (
                    condition_id,
                    line,
                    f"未知的{words.what}“{word}”{words.suggestion(word)}"
                    f"（这样写不会匹配任何企业） / unknown {field} value",
                )
            )
    return found


def look_back_id(number: int) -> str:
    """How a fault names the look-back (``when``) of the schedule's instalment ``number``."""
    return f"schedule-{number}"
