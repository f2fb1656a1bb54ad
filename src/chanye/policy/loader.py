"""Reading policy files (YAML): every problem reported as ``file:line:column: message``.

Positions come from the YAML node marks; a problem inside a CEL expression is placed at its line
and column within the file (exact for expressions written on one line, as policy files do).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeGuard

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.nodes import Node as YamlNode

from chanye.policy.cel import CelError, Node, param_type, parse
from chanye.policy.fields import APPLICATION_TYPES, CelType
from chanye.policy.model import (
    APPLICATION_KIND_LABELS,
    APPLICATION_PREFIX,
    ITEM_PREFIX,
    MONEY_INPUT_UNITS,
    MOST_ITEMS_DEFAULT,
    SUPPLIED_PREFIXES,
    ApplicationField,
    Condition,
    Instalment,
    Items,
    PaymentLimits,
    Policy,
    reads_item,
)
from chanye.policy.tiers import COLUMNS as TIER_COLUMNS
from chanye.policy.tiers import Tiers, is_number, order_problems
from chanye.problems import FileRefusedError
from chanye.units import format_yuan, parse_amount, parse_percent

# libyaml's parser where the platform has it (the same nodes, with their line numbers).
LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

POLICY_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
TOP_KEYS = {
    "id",
    "title",
    "issuer",
    "document",
    "valid",
    "parameters",
    "conditions",
    "benefit",
    "exclusive_group",
    "cap_group",
    "application",
    "payment_group",
    "items",
}
BENEFIT_KEYS = ("amount", "once", "yearly_cap", "total_cap", "unless_paid", "schedule")
INSTALMENT_KEYS = ("share", "after_years", "text", "when")
SHARE_TOLERANCE = 1e-9
APPLICATION_KEYS = ("id", "label", "kind", "unit", "help", "attachments")
ITEMS_KEYS = ("label", "max", "fields")
MOST_ITEMS = 50  # a ceiling on ``items: max``: the push page lists every item as a row
REQUIRED = ("id", "title", "issuer", "valid", "conditions")


@dataclass(frozen=True)
class PolicyProblem:
    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class PolicyFileError(FileRefusedError[PolicyProblem]):
    """A policy file that cannot be used; ``problems`` gives each as file:line:column: message."""


def load_policy_file(path: Path) -> Policy:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyFileError(
            [PolicyProblem(str(path), 1, 1, "文件不存在 / no such file")]
        ) from None
    except UnicodeDecodeError:
        raise PolicyFileError(
            [PolicyProblem(str(path), 1, 1, "文件须为 UTF-8 编码 / not UTF-8")]
        ) from None
    return load_policy_text(text, str(path))


def load_policy_text(text: str, source_name: str) -> Policy:
    reader = _Reader(source_name, text)
    policy = reader.read()
    if reader.problems or policy is None:
        raise PolicyFileError(reader.problems)
    return policy


def with_parameters(policy: Policy, changes: dict[str, Any]) -> Policy:
    """The same policy with some parameters changed (for simulation), re-checked. A name
    ``table.row.column`` changes one band of a tier table (``output_tiers.3.amount``)."""
    merged = dict(policy.parameters)
    for name, value in changes.items():
        table, _, band = name.partition(".")
        if band:
            merged[table] = _with_band(policy, merged.get(table), name, value)
        else:
            merged[name] = value
    return reparse(policy, merged)


def _with_band(policy: Policy, tiers: Any, name: str, value: float) -> Tiers:
    """A tier table with one band changed, its order checked as ``check`` checks it."""
    table, row, column = [*name.split("."), "", ""][:3]
    if not isinstance(tiers, Tiers) or not row.isdigit() or column not in ("from", tiers.column):
        raise PolicyFileError(
            [PolicyProblem(policy.source_name, 1, 1, f"无法修改 {name} / not a band of a table")]
        )
    changed = tiers.with_band(int(row), column, float(value))
    problems = order_problems(table, changed.starts)
    if problems:
        raise PolicyFileError([PolicyProblem(policy.source_name, 1, 1, p) for p in problems])
    return changed


def reparse(policy: Policy, parameters: dict[str, Any]) -> Policy:
    """The policy re-checked with other parameter values (types must stay the same)."""
    for name, value in parameters.items():
        if name not in policy.parameters:
            raise PolicyFileError(
                [
                    PolicyProblem(
                        policy.source_name, 1, 1, f"未定义的参数 {name} / unknown parameter"
                    )
                ]
            )
        if not _same_kind(policy.parameters[name], value):
            raise PolicyFileError(
                [
                    PolicyProblem(
                        policy.source_name,
                        1,
                        1,
                        f"参数 {name} 须为 {_kind_name(policy.parameters[name])} "
                        f"/ parameter {name} keeps its type",
                    )
                ]
            )
    declared = declarations(policy.application), declarations(policy.item_fields)
    conditions = [replace(c, node=parse(c.when, parameters, *declared)) for c in policy.conditions]
    amount = parse(policy.amount_text, parameters, *declared) if policy.amount_text else None
    schedule = tuple(
        replace(i, node=parse(i.when, parameters, *declared)) if i.when else i
        for i in policy.schedule
    )
    return replace(
        policy, parameters=parameters, conditions=conditions, amount=amount, schedule=schedule
    )


def declarations(fields: Sequence[ApplicationField]) -> dict[str, tuple[str, CelType]]:
    """What CEL checks ``application.<id>`` against: each declared field's name and type."""
    return {f.id: (f.field_name, f.cel_type) for f in fields}


def _kind_name(value: Any) -> str:
    return "分档表" if isinstance(value, Tiers) else str(param_type(value))


def _same_kind(old: Any, new: Any) -> bool:
    if isinstance(old, Tiers) or isinstance(new, Tiers):
        return isinstance(old, Tiers) and isinstance(new, Tiers) and old.column == new.column
    old_type, new_type = param_type(old), param_type(new)
    return old_type == new_type or (old_type == "double" and new_type == "int")


class _Reader:
    def __init__(self, source_name: str, text: str) -> None:
        self.source = source_name
        self.text = text
        self.problems: list[PolicyProblem] = []
        self.declared: tuple[ApplicationField, ...] = ()  # the file's application fields
        self.items: Items | None = None  # and each item's (一对多)
        self.limits = PaymentLimits()
        self.schedule: tuple[Instalment, ...] = ()

    def problem(
        self, node: YamlNode | None, message: str, offset: tuple[int, int] = (0, 0)
    ) -> None:
        line = (node.start_mark.line + 1) if node is not None else 1
        column = (node.start_mark.column + 1) if node is not None else 1
        self.problems.append(
            PolicyProblem(self.source, line + offset[0], column + offset[1], message)
        )

    def read(self) -> Policy | None:
        try:
            root = yaml.compose(self.text, Loader=LOADER)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            reason = getattr(exc, "problem", None) or str(exc)
            hint = _split_expression_hint(self.text, line)
            self.problems.append(
                PolicyProblem(
                    self.source, line, column, f"YAML 格式错误 / YAML error: {reason}{hint}"
                )
            )
            return None
        if not isinstance(root, MappingNode):
            self.problem(
                root, "政策文件须为键值映射（id、title、conditions…）/ a policy file is a mapping"
            )
            return None
        top = self.mapping(root)
        for key, (key_node, _value) in top.items():
            if key not in TOP_KEYS:
                self.problem(
                    key_node, f"未知的键 {key}（可用：{'、'.join(sorted(TOP_KEYS))}）/ unknown key"
                )
        for key in REQUIRED:
            if key not in top:
                self.problem(root, f"缺少必填项 {key} / missing key {key}")
        if self.problems:
            return None
        return self.policy(top)

    def mapping(self, node: MappingNode) -> dict[str, tuple[YamlNode, YamlNode]]:
        found: dict[str, tuple[YamlNode, YamlNode]] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in found:
                self.problem(key_node, f"重复的键 {key} / duplicate key")
            found[key] = (key_node, value_node)
        return found

    def value(self, node: YamlNode) -> Any:
        # Constructed from the node already composed (a round trip through text costs a
        # parse per value: seconds for a hundred policies).
        return yaml.SafeLoader("").construct_object(node, deep=True)

    def text_of(self, top: dict[str, tuple[YamlNode, YamlNode]], key: str) -> str | None:
        if key not in top:
            return None
        node = top[key][1]
        value = self.value(node)
        if not isinstance(value, str) or not value.strip():
            self.problem(node, f"{key} 须为非空文本 / {key} must be text")
            return None
        return value.strip()

    def policy(self, top: dict[str, tuple[YamlNode, YamlNode]]) -> Policy | None:
        policy_id = self.text_of(top, "id") or ""
        if policy_id and not POLICY_ID.match(policy_id):
            self.problem(
                top["id"][1],
                "id 只能用小写字母、数字和 -（如 rd-subsidy-2025）/ id must match [a-z0-9-]",
            )
        valid = self.validity(top["valid"][1])
        parameters = self.parameters(top.get("parameters"))
        self.declared = self.application(top.get("application"))
        self.items = self.item_schema(top.get("items"))
        conditions = self.conditions(top["conditions"][1], parameters)
        amount_text, amount = self.benefit(top.get("benefit"), parameters)
        self.check_items_read(top.get("items"), conditions, amount)
        title, issuer = self.text_of(top, "title"), self.text_of(top, "issuer")
        if self.problems or valid is None or title is None or issuer is None:
            return None
        return Policy(
            policy_id,
            title,
            issuer,
            valid[0],
            valid[1],
            parameters,
            conditions,
            amount,
            amount_text,
            self.text_of(top, "document"),
            self.text_of(top, "exclusive_group"),
            self.source,
            self.text,
            cap_group=self.cap_group(top.get("cap_group")),
            application=self.declared,
            limits=self.limits,
            payment_group=self.payment_group(top.get("payment_group")),
            items=self.items,
            schedule=self.schedule,
        )

    def payment_group(self, entry: tuple[YamlNode, YamlNode] | None) -> str | None:
        """The kind of subsidy this policy's payments count as, for another's ``unless_paid``."""
        if entry is None:
            return None
        value = self.value(entry[1])
        if not isinstance(value, str) or not POLICY_ID.match(value):
            self.problem(entry[1], "payment_group 须为小写字母、数字和 -（如 tech-upgrade）")
            return None
        return value

    def application(self, entry: tuple[YamlNode, YamlNode] | None) -> tuple[ApplicationField, ...]:
        """``application``: the values an applicant supplies (快申), each with its id, Chinese
        label, kind, unit (money), help text and the attachments that prove it."""
        if entry is None:
            return ()
        node = entry[1]
        if not isinstance(node, SequenceNode) or not node.value:
            self.problem(node, "application 须为申报字段的列表 / application is a list of fields")
            return ()
        found: list[ApplicationField] = []
        for item in node.value:
            declared = self.application_field(item, {f.id for f in found})
            if declared is not None:
                found.append(declared)
        return tuple(found)

    def item_schema(self, entry: tuple[YamlNode, YamlNode] | None) -> Items | None:
        """``items``: several projects (contracts, models) per application, each with the
        same declared fields, read as ``item.<id>``."""
        if entry is None:
            return None
        node = entry[1]
        parts = self.mapping(node) if isinstance(node, MappingNode) else {}
        if not isinstance(node, MappingNode) or "fields" not in parts:
            self.problem(
                node, "items 须为映射，如 {label: 技术改造项目, fields: [...]} / a mapping"
            )
            return None
        for key, (key_node, _v) in parts.items():
            if key not in ITEMS_KEYS:
                known = "、".join(ITEMS_KEYS)
                self.problem(key_node, f"items 中未知的键 {key}（可用：{known}）/ unknown key")
        label = self.value(parts["label"][1]) if "label" in parts else None
        if not isinstance(label, str) or not label.strip():
            self.problem(node, "items 须有中文名称 label，如 技术改造项目 / items need a label")
            return None
        most = self.value(parts["max"][1]) if "max" in parts else MOST_ITEMS_DEFAULT
        if isinstance(most, bool) or not isinstance(most, int) or not 1 <= most <= MOST_ITEMS:
            self.problem(
                parts["max"][1], f"items 的 max 须为 1 至 {MOST_ITEMS} 的整数（每份申报最多几项）"
            )
            most = MOST_ITEMS_DEFAULT
        fields_node = parts["fields"][1]
        if not isinstance(fields_node, SequenceNode) or not fields_node.value:
            self.problem(fields_node, "items 的 fields 须为项目字段的列表 / a list of fields")
            return None
        found: list[ApplicationField] = []
        for item in fields_node.value:
            seen = {f.id for f in (*self.declared, *found)}
            declared = self.application_field(item, seen, ITEM_PREFIX)
            if declared is not None:
                found.append(declared)
        return Items(label.strip(), tuple(found), most) if found else None

    def check_items_read(
        self,
        entry: tuple[YamlNode, YamlNode] | None,
        conditions: list[Condition],
        amount: Node | None,
    ) -> None:
        """Items that no condition and no amount reads would be asked for and never decide."""
        if entry is None or self.items is None:
            return
        nodes = [c.node for c in conditions] + ([amount] if amount is not None else [])
        if not any(reads_item(n) for n in nodes):
            self.problem(
                entry[0],
                f"声明了 items（{self.items.label}），但没有条件或金额读取 item.字段 / items unread",
            )

    def application_field(
        self, item: YamlNode, seen: set[str], prefix: str = APPLICATION_PREFIX
    ) -> ApplicationField | None:
        parts = self.mapping(item) if isinstance(item, MappingNode) else {}
        for key, (key_node, _v) in parts.items():
            if key not in APPLICATION_KEYS:
                known = "、".join(APPLICATION_KEYS)
                self.problem(key_node, f"申报字段中未知的键 {key}（可用：{known}）/ unknown key")
        value = {k: self.value(v) for k, (_n, v) in parts.items()}
        field_id, label, kind = value.get("id"), value.get("label"), value.get("kind", "money")
        if not isinstance(field_id, str) or not re.match(r"^[a-z_][a-z0-9_]*$", field_id):
            self.problem(item, "申报字段须有 id（小写字母、数字和 _）/ a field needs an id")
            return None
        if field_id in seen:
            self.problem(parts["id"][1], f"重复的申报字段 {field_id} / duplicate field")
        if not isinstance(label, str) or not label.strip():
            self.problem(item, f"申报字段 {field_id} 须有中文名称 label / a field needs a label")
            return None
        if kind not in APPLICATION_TYPES:
            kinds = "、".join(f"{k}（{v}）" for k, v in APPLICATION_KIND_LABELS.items())
            self.problem(
                parts.get("kind", (item, item))[1], f"申报字段 {field_id} 的 kind 须为 {kinds}"
            )
            return None
        unit = value.get("unit")
        if unit is not None and (kind != "money" or unit not in MONEY_INPUT_UNITS):
            self.problem(
                parts["unit"][1],
                f"申报字段 {field_id} 的 unit 只用于金额，可写 {'、'.join(MONEY_INPUT_UNITS)}",
            )
        attachments = value.get("attachments") or []
        if not isinstance(attachments, list) or not all(
            isinstance(a, str) and a.strip() for a in attachments
        ):
            self.problem(item, f"申报字段 {field_id} 的 attachments 须为附件名称的列表")
            attachments = []
        return ApplicationField(
            field_id,
            label.strip(),
            str(kind),
            str(unit) if unit else ("万元" if kind == "money" else None),
            str(value.get("help") or "").strip(),
            tuple(a.strip() for a in attachments),
            prefix,
        )

    def cap_group(self, entry: tuple[YamlNode, YamlNode] | None) -> tuple[str, float] | None:
        """``cap_group: {id: innovation, cap: 10000000.0}``: every policy naming the group pays one
        enterprise at most ``cap`` yuan in all."""
        if entry is None:
            return None
        value = self.value(entry[1])
        group, cap = (
            (value.get("id"), value.get("cap")) if isinstance(value, dict) else (None, None)
        )
        if (
            not isinstance(group, str)
            or not POLICY_ID.match(group)
            or not isinstance(cap, int | float)
            or isinstance(cap, bool)
            or cap <= 0
        ):
            self.problem(
                entry[1],
                "cap_group 须写成 {id: 组名, cap: 正数金额} / cap_group needs id and a positive cap",
            )
            return None
        return group, float(cap)

    def validity(self, node: YamlNode) -> tuple[dt.date, dt.date] | None:
        if not isinstance(node, MappingNode):
            self.problem(node, "valid 须写成 {from: 日期, to: 日期} / valid needs from and to")
            return None
        parts = self.mapping(node)
        days: list[dt.date] = []
        for key in ("from", "to"):
            if key not in parts:
                self.problem(node, f"valid 缺少 {key} / valid needs {key}")
                continue
            value = _day(self.value(parts[key][1]))
            if value is None:
                self.problem(parts[key][1], f"valid.{key} 须为日期，如 2025-01-01 / not a date")
                continue
            days.append(value)
        if len(days) == 2 and days[0] > days[1]:
            self.problem(parts["to"][1], "有效期结束日早于开始日 / valid.to is before valid.from")
        return (days[0], days[1]) if len(days) == 2 and days[0] <= days[1] else None

    def parameters(self, entry: tuple[YamlNode, YamlNode] | None) -> dict[str, Any]:
        if entry is None:
            return {}
        node = entry[1]
        if not isinstance(node, MappingNode):
            self.problem(node, "parameters 须为 名称: 取值 的映射 / parameters is a mapping")
            return {}
        found: dict[str, Any] = {}
        for name, (key_node, value_node) in self.mapping(node).items():
            value = self.value(value_node)
            if not re.match(r"^[a-z_][a-z0-9_]*$", name):
                self.problem(
                    key_node, f"参数名 {name} 只能用小写字母、数字和 _ / bad parameter name"
                )
            elif _is_tier_table(value_node):
                found[name] = self.tier_table(name, value_node)
            elif isinstance(value, str) and (hint := _number_hint(value)) is not None:
                self.problem(value_node, f"参数 {name} 的取值 {value}：{hint}")
                found[name] = 0.0  # the file is refused; no follow-on "unknown parameter"
            elif param_type(value) is None:
                self.problem(
                    value_node,
                    f"参数 {name} 的取值须为数、文本、日期或文本列表 / unsupported value",
                )
            else:
                found[name] = value
        return found

    def tier_table(self, name: str, node: SequenceNode) -> Tiers:
        """A table of bands (分档): ``[{from: 100000000, amount: 100000}, …]``, each ``from``
        above the one before. A refused table still gives a placeholder, so that the
        expressions reading it say nothing more."""
        count = len(self.problems)
        bands = [self.tier_band(name, i + 1, item) for i, item in enumerate(node.value)]
        columns = {b[2] for b in bands if b is not None}
        if len(columns) > 1:
            self.problem(
                node,
                f"参数 {name}：各档须同用 amount（金额）或同用 rate（比例），不能混用 "
                f"/ one table gives amounts or rates",
            )
        starts = tuple(b[0] for b in bands if b is not None)
        if len(starts) == len(bands):
            for message, item in zip(
                order_problems(name, starts), _unordered(starts, node), strict=True
            ):
                self.problem(item, message)
        if len(self.problems) > count:
            return Tiers((0.0,), (0.0,))
        return Tiers(starts, tuple(b[1] for b in bands if b is not None), columns.pop())

    def tier_band(self, name: str, row: int, node: YamlNode) -> tuple[float, float, str] | None:
        """One band as (from, value, column), or None when it is refused (said why)."""
        where = f"参数 {name} 第 {row} 档"
        if not isinstance(node, MappingNode):
            self.problem(node, f"{where}须写成 {{from: 起点, amount: 金额}} / a band is a mapping")
            return None
        parts = self.mapping(node)
        for key, (key_node, _v) in parts.items():
            if key not in ("from", *TIER_COLUMNS):
                self.problem(key_node, f"{where}：未知的键 {key}（可用：from、amount、rate）")
        given = [c for c in TIER_COLUMNS if c in parts]
        if "from" not in parts or len(given) != 1:
            self.problem(
                node,
                f"{where}须有 from（起点，含本数）和 amount（金额）或 rate（比例）之一 "
                f"/ a band needs from and one of amount, rate",
            )
            return None
        start = self.band_number(where, "from", parts["from"][1])
        value = self.band_number(where, given[0], parts[given[0]][1])
        if start is None or value is None:
            return None
        return start, value, given[0]

    def band_number(self, where: str, key: str, node: YamlNode) -> float | None:
        value = self.value(node)
        if isinstance(value, str) and (hint := _number_hint(value)) is not None:
            self.problem(node, f"{where} {key} 的取值 {value}：{hint}")
        elif not is_number(value):
            self.problem(node, f"{where} {key} 须为数{_float_hint(value)} / {key} must be a number")
        elif key != "from" and value < 0:
            self.problem(node, f"{where} {key} 不能为负数 / {key} must not be negative")
        else:
            return float(value)
        return None

    def conditions(self, node: YamlNode, parameters: dict[str, Any]) -> list[Condition]:
        if not isinstance(node, SequenceNode) or not node.value:
            self.problem(node, "conditions 须为至少一项的列表 / conditions is a non-empty list")
            return []
        conditions: list[Condition] = []
        seen: set[str] = set()
        for item in node.value:
            if not isinstance(item, MappingNode):
                self.problem(item, "每个条件须有 id、text、when / a condition is a mapping")
                continue
            parts = self.mapping(item)
            for key, (key_node, _v) in parts.items():
                if key not in ("id", "text", "when"):
                    self.problem(
                        key_node, f"条件中未知的键 {key}（可用：id、text、when）/ unknown key"
                    )
            condition_id = self.value(parts["id"][1]) if "id" in parts else None
            if not isinstance(condition_id, str) or not POLICY_ID.match(condition_id):
                self.problem(
                    parts["id"][1] if "id" in parts else item,
                    "条件 id 须为小写字母、数字和 - / condition id must match [a-z0-9-]",
                )
                continue
            if condition_id in seen:
                self.problem(
                    parts["id"][1], f"重复的条件 id {condition_id} / duplicate condition id"
                )
            seen.add(condition_id)
            if "when" not in parts:
                self.problem(item, f"条件 {condition_id} 缺少 when / condition needs when")
                continue
            node_ = self.cel(parts["when"][1], parameters, must_be="bool")
            text = self.value(parts["text"][1]) if "text" in parts else None
            if node_ is not None:
                conditions.append(
                    Condition(
                        condition_id,
                        str(text or self.value(parts["when"][1])),
                        str(self.value(parts["when"][1])),
                        node_,
                        parts["when"][1].start_mark.line + 1,
                    )
                )
        return conditions

    def benefit(
        self, entry: tuple[YamlNode, YamlNode] | None, parameters: dict[str, Any]
    ) -> tuple[str | None, Node | None]:
        if entry is None:
            return None, None
        parts = self.mapping(entry[1]) if isinstance(entry[1], MappingNode) else {}
        if not isinstance(entry[1], MappingNode):
            self.problem(entry[1], "benefit 须为映射，如 {amount: ...} / benefit is a mapping")
        for key, (key_node, _v) in parts.items():
            if key not in BENEFIT_KEYS:
                known = "、".join(BENEFIT_KEYS)
                self.problem(key_node, f"benefit 中未知的键 {key}（可用：{known}）/ unknown key")
        self.limits = self.payment_limits(parts)
        if "schedule" in parts:
            self.schedule = self.instalments(parts["schedule"][1], parameters)
        if "amount" not in parts:
            if "schedule" in parts:
                self.problem(
                    parts["schedule"][0], "schedule 须与 amount 同用 / schedule needs amount"
                )
            return None, None
        node = self.cel(parts["amount"][1], parameters, must_be="number")
        return str(self.value(parts["amount"][1])), node

    def instalments(self, node: YamlNode, parameters: dict[str, Any]) -> tuple[Instalment, ...]:
        """``schedule``: the benefit paid in instalments (分期拨付), each a share of the amount
        falling due ``after_years`` after the first; the shares add up to 1."""
        if not isinstance(node, SequenceNode) or len(node.value) < 2:
            self.problem(
                node,
                "schedule 须为至少两期的列表，如 [{share: 0.6}, {share: 0.4, after_years: 1}] "
                "/ schedule is a list of two or more instalments",
            )
            return ()
        found: list[Instalment] = []
        for number, item in enumerate(node.value, start=1):
            instalment = self.instalment(number, item, parameters, found[-1] if found else None)
            if instalment is None:
                return ()
            found.append(instalment)
        total = sum(i.share for i in found)
        if abs(total - 1.0) > SHARE_TOLERANCE:
            self.problem(
                node,
                f"schedule 各期 share 之和须为 1（100%），此处为 {total:.10g}"
                f" / the shares must sum to 1",
            )
        return tuple(found)

    def instalment(
        self,
        number: int,
        item: YamlNode,
        parameters: dict[str, Any],
        previous: Instalment | None,
    ) -> Instalment | None:
        """One instalment, or None when refused (said why, at its line)."""
        where = f"schedule 第 {number} 期"
        if not isinstance(item, MappingNode):
            self.problem(item, f"{where}须写成 {{share: 比例, after_years: 年数}} / a mapping")
            return None
        parts = self.mapping(item)
        count = len(self.problems)
        for key, (key_node, _v) in parts.items():
            if key not in INSTALMENT_KEYS:
                known = "、".join(INSTALMENT_KEYS)
                self.problem(key_node, f"{where}：未知的键 {key}（可用：{known}）/ unknown key")
        share = self.share(where, parts["share"][1]) if "share" in parts else None
        if "share" not in parts:
            self.problem(item, f"{where}缺少 share（占奖励金额的比例）/ an instalment needs share")
        after = self.after_years(where, parts, item, previous)
        when: Node | None = None
        if "when" in parts and previous is None:
            self.problem(
                parts["when"][0],
                "schedule 第 1 期在确认享受后即拨付，不能写 when（回看条件只用于以后各期）"
                " / no when on the first instalment",
            )
        elif "when" in parts:
            when = self.cel(parts["when"][1], parameters, must_be="bool")
            if when is not None and any(n.startswith(SUPPLIED_PREFIXES) for n in when.fields()):
                # Read a year later from the registry: what was supplied when applying is not
                # supplied again, so such a look-back would wait for data for ever.
                self.problem(
                    parts["when"][1],
                    f"{where} when 只能读企业库数据（enterprise.… 与历史函数），不能读申报数据"
                    f"（application.… / item.…）/ a look-back reads the registry",
                )
        text = self.value(parts["text"][1]) if "text" in parts else ""
        if not isinstance(text, str):
            self.problem(parts["text"][1], f"{where} text 须为文本 / text must be text")
        if len(self.problems) > count or share is None or after is None:
            return None
        if when is None:
            return Instalment(share, after, str(text or ""))
        source, line = str(self.value(parts["when"][1])), parts["when"][1].start_mark.line + 1
        return Instalment(share, after, str(text or ""), source, when, line)

    def share(self, where: str, node: YamlNode) -> float | None:
        value = self.value(node)
        share = parse_percent(value) if isinstance(value, str) else value
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
            self.problem(
                node, f"{where} share 须为 0 到 1 之间的比例，如 0.6 或 60% / a share in (0, 1]"
            )
            return None
        return float(share)

    def after_years(
        self,
        where: str,
        parts: dict[str, tuple[YamlNode, YamlNode]],
        item: YamlNode,
        previous: Instalment | None,
    ) -> int | None:
        """Years after the first instalment: 0 for the first, then strictly increasing."""
        node = parts["after_years"][1] if "after_years" in parts else item
        value = self.value(node) if "after_years" in parts else 0
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.problem(node, f"{where} after_years 须为不小于 0 的整数（年）/ whole years")
            return None
        if previous is None and value != 0:
            self.problem(
                node,
                "schedule 第 1 期在确认享受后即拨付，after_years 须为 0 或不写"
                " / the first instalment falls due at once",
            )
            return None
        if previous is not None and value <= previous.after_years:
            self.problem(
                node,
                f"{where} after_years 须大于上一期（{previous.after_years}），如 "
                f"{previous.after_years + 1} / after_years must increase",
            )
            return None
        return value

    def payment_limits(self, parts: dict[str, tuple[YamlNode, YamlNode]]) -> PaymentLimits:
        """``once``, ``yearly_cap``, ``total_cap`` and ``unless_paid``: what the payout ledger
        limits (see ``chanye.policy.ledger``)."""
        once = self.value(parts["once"][1]) if "once" in parts else False
        if not isinstance(once, bool):
            self.problem(parts["once"][1], "once 须为 true 或 false（一次性奖励写 true）")
            once = False
        caps = {
            key: self.cap(parts[key][1], key) for key in ("yearly_cap", "total_cap") if key in parts
        }
        unless = self.value(parts["unless_paid"][1]) if "unless_paid" in parts else []
        if not isinstance(unless, list) or not all(
            isinstance(u, str) and POLICY_ID.match(u) for u in unless
        ):
            self.problem(
                parts["unless_paid"][1],
                "unless_paid 须为政策 id 或 payment_group 的列表，如 [tech-upgrade]",
            )
            unless = []
        return PaymentLimits(once, caps.get("yearly_cap"), caps.get("total_cap"), tuple(unless))

    def cap(self, node: YamlNode, key: str) -> float | None:
        value = self.value(node)
        amount = parse_amount(value) if isinstance(value, str) else value
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
            self.problem(node, f"{key} 须为正的金额，如 10000000.0 或 1000万 / a positive amount")
            return None
        return float(amount)

    def cel(self, node: YamlNode, parameters: dict[str, Any], must_be: str) -> Node | None:
        if not isinstance(node, ScalarNode) or not isinstance(self.value(node), str | int | float):
            self.problem(node, "须为 CEL 表达式文本 / a CEL expression is expected")
            return None
        source = str(self.value(node))
        try:
            parsed = parse(
                source,
                parameters,
                declarations(self.declared),
                declarations(self.items.fields if self.items else ()),
            )
        except CelError as exc:
            for p in exc.problems:
                self.problem(node, p.message, self.offset(node, p.line, p.column))
            return None
        if must_be == "bool" and parsed.type != "bool":
            self.problem(
                node,
                f"条件须为真/假（布尔）表达式，此处是 {parsed.type} / a condition must be bool",
            )
        if must_be == "number" and parsed.type not in ("int", "double"):
            self.problem(
                node, f"金额须为数值表达式，此处是 {parsed.type} / an amount must be a number"
            )
        return parsed

    @staticmethod
    def offset(node: YamlNode, line: int, column: int) -> tuple[int, int]:
        """Where (line, column) of the expression lies in the file, relative to the scalar."""
        style = getattr(node, "style", None)
        if style in ("|", ">"):
            return line, column - 1 - node.start_mark.column + 2  # block: text starts a line below
        quote = 1 if style in ("'", '"') else 0
        return line - 1, (column - 1 + quote) if line == 1 else column - 1 - node.start_mark.column


def _is_tier_table(node: YamlNode) -> TypeGuard[SequenceNode]:
    """A list with a mapping in it is a tier table (a list of text holds none)."""
    return isinstance(node, SequenceNode) and any(isinstance(i, MappingNode) for i in node.value)


def _unordered(starts: tuple[float, ...], node: SequenceNode) -> list[YamlNode]:
    """The bands whose ``from`` is not above the one before, as ``order_problems`` lists them."""
    return [
        next(v for k, v in node.value[i].value if k.value == "from")
        for i in range(1, len(starts))
        if starts[i] <= starts[i - 1]
    ]


def _day(value: Any) -> dt.date | None:
    """A date, also when written in quotes (``'2025-01-01'``, as ``yaml.safe_dump`` writes it)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return dt.date.fromisoformat(value.strip())
    return None


def _number_hint(value: str) -> str | None:
    """What to write instead of an amount or a rate written as text (``2000万``, ``20%``)."""
    rate = parse_percent(value)
    if rate is not None:
        return f"比例请写成小数：{rate:g} / write a rate as a decimal: {rate:g}"
    amount = parse_amount(value)
    # A bare number in quotes ("2000") is text the author meant: only a unit (万, 亿元) is a slip.
    if amount is not None and not value.strip().replace(".", "", 1).isdigit():
        return f"金额请写成以元为单位的数：{amount:.1f} / write an amount in yuan: {amount:.1f}"
    return None


def _float_hint(value: Any) -> str:
    """YAML reads ``1.0e9`` (no sign in the exponent) as text: say how to write the number."""
    try:
        number = float(str(value))
    except ValueError:
        return "，如 100000000"
    return f"：YAML 把 {value} 读作文本，请写成 {number:.1f}"


def _split_expression_hint(text: str, line: int) -> str:
    """An expression that starts with a quote (``when: "high_tech" in enterprise.tags``) is cut
    by YAML after the quoted part: say how to write it."""
    lines = text.splitlines()
    for number in (line - 1, line - 2):  # YAML reports the line after, or the line itself
        if 0 <= number < len(lines):
            key, _, rest = lines[number].strip().lstrip("- ").partition(":")
            if key in ("when", "amount") and rest.strip()[:1] in ('"', "'"):
                return (
                    f"。第 {number + 1} 行的表达式以引号开头，整条须再用引号括起，如 "
                    f"{key}: '{rest.strip()}'"
                    f" / quote the whole expression"
                )
    return ""


def conflicts(policies: Sequence[Policy]) -> list[str]:
    """What cannot hold across several policy files read together: one id in two files, or one
    ``cap_group`` with two caps (which would one enterprise's total be held to?)."""
    problems: list[str] = []
    by_id: dict[str, Policy] = {}
    by_group: dict[str, Policy] = {}
    for policy in policies:
        first = by_id.setdefault(policy.id, policy)
        if first is not policy:
            problems.append(
                f"{policy.source_name}: 政策 id {policy.id} 已在 {first.source_name} 中使用，"
                f"一个 id 只能对应一个文件 / the same policy id in two files"
            )
        if policy.cap_group is None:
            continue
        group, cap = policy.cap_group
        holder = by_group.setdefault(group, policy)
        other = holder.cap_group[1] if holder.cap_group else cap
        if other != cap:
            problems.append(
                f"{policy.source_name}: cap_group {group} 的上限 {format_yuan(cap)} 与 "
                f"{holder.source_name} 中的 {format_yuan(other)} 不同，同一组只能有一个上限 "
                f"/ one cap_group with two caps"
            )
    return problems
