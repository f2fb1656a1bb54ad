"""CEL, read with cel-python's parser and checked against the enterprise fields and parameters.

The parse tree becomes a small typed tree (``Node``) that both engines share: the batch compiler
(``chanye.policy.compile``, CEL → Ibis) and the single-enterprise interpreter
(``chanye.policy.interpret``) walk the same nodes, so one rule definition feeds both.

Supported: literals (int, double, string, bool), ``enterprise.<field>``, ``params.<name>``,
``! && || ?:``, comparisons, ``+ - *`` and ``/`` by a non-zero number, ``in`` (a list field or a
list literal), ``size``, ``startsWith``/``endsWith``/``contains``, ``int()``, ``double()``,
``timestamp("...")``, and the functions chanye adds: ``min``, ``max``, ``tier`` (a tier table,
``chanye.policy.tiers``) and the history functions (``chanye.policy.history``). Numbers compare
across int and double; arithmetic needs both sides of one type (CEL has no implicit conversion).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lark import Lark, Token, Tree

from chanye.policy.fields import FIELD_BY_NAME, CelType, known_fields_text
from chanye.policy.history import FUNCTIONS as HISTORY_FUNCTIONS
from chanye.policy.history import call_field
from chanye.policy.tiers import Tiers

NUMERIC = ("int", "double")
COMPARISONS = {
    "relation_lt": "<",
    "relation_le": "<=",
    "relation_gt": ">",
    "relation_ge": ">=",
    "relation_eq": "==",
    "relation_ne": "!=",
}
ARITHMETIC = {
    "addition_add": "+",
    "addition_sub": "-",
    "multiplication_mul": "*",
    "multiplication_div": "/",
    "multiplication_mod": "%",
}
STRING_METHODS = ("startsWith", "endsWith", "contains")
# The parse tree's levels that hold a single expression below them.
WRAPPERS = (
    "expr",
    "conditionalor",
    "conditionaland",
    "relation",
    "addition",
    "multiplication",
    "unary",
    "member",
    "primary",
)
TIER_USAGE = "tier(数值, params.分档表)，如 tier(enterprise.output_value, params.output_tiers)"


@dataclass(frozen=True)
class CelProblem:
    line: int  # 1-based, within the expression
    column: int
    message: str


class CelError(Exception):
    def __init__(self, problems: list[CelProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.message for p in problems))


@dataclass(eq=False)
class Node:
    """A checked CEL expression: ``kind`` says what it is, ``type`` what it yields."""

    kind: str  # literal field param not neg and or compare arith in list ternary call
    type: CelType
    line: int
    column: int
    op: str = ""  # the operator, field/param/function name
    value: Any = None  # a literal's value; the tier table's parameter name for tier()
    args: list[Node] = field(default_factory=list)
    _fields: tuple[str, ...] | None = field(default=None, init=False, repr=False)

    def walk(self) -> list[Node]:
        nodes = [self]
        for arg in self.args:
            nodes += arg.walk()
        return nodes

    def fields(self) -> list[str]:
        """The enterprise fields this expression reads, in order of first appearance (worked out
        once: a node is not changed after it is checked, and explanations ask for every record)."""
        if self._fields is None:
            self._fields = tuple(dict.fromkeys(n.op for n in self.walk() if n.kind == "field"))
        return list(self._fields)


Declared = Mapping[str, tuple[str, CelType]]  # by id: the field name it is read by, its type


def parse(
    text: str,
    params: dict[str, Any],
    application: Declared | None = None,
    items: Declared | None = None,
) -> Node:
    """Parse and check one CEL expression; raises CelError with every problem found.
    ``application``: the values an applicant supplies (快申), declared in the policy file, by id:
    (the field name conditions read it by, its type); ``items``: those of each item (一对多)."""
    from celpy.celparser import CELParseError

    wide = _full_width(text)
    if wide:
        raise CelError([CelProblem(1, text.index(wide[0]) + 1, _full_width_message(text, wide))])
    try:
        tree = _syntax_tree(text)
    except CELParseError as exc:
        first = str(exc).splitlines()[0] if str(exc) else text
        raise CelError(
            [
                CelProblem(
                    exc.line or 1,
                    exc.column or 1,
                    f"CEL 语法错误 / syntax error near: {first.strip()!r}",
                )
            ]
        ) from None
    checker = _Checker(params, application or {}, items or {})
    node = checker.visit(tree)
    if checker.problems:
        raise CelError(checker.problems)
    return node


# Full-width punctuation outside string literals, as Chinese input methods type it.
_WIDE = str.maketrans("“”‘’（）＞＜＝！＆｜，．＋－＊／％　", "\"\"''()><=!&|,.+-*/% ")


# A literal's opening quote → the quotes that close it.
_CLOSING = {'"': '"', "'": "'", "“": '”"', "‘": "’'"}


def _outside_literals(text: str) -> list[tuple[str, bool]]:
    """Each character of ``text`` with whether it lies outside string literals (its quotes
    count as outside). Curly quotes open and close literals too: they were meant as quotes."""
    marked, closing = [], None
    for char in text:
        if closing is not None:
            inside = char not in closing
            marked.append((char, not inside))
            closing = closing if inside else None
        else:
            marked.append((char, True))
            closing = _CLOSING.get(char)
    return marked


def _full_width(text: str) -> list[str]:
    """The full-width characters of ``text`` outside its string literals, in order."""
    return [c for c, outside in _outside_literals(text) if outside and c.translate(_WIDE) != c]


def _full_width_message(text: str, wide: list[str]) -> str:
    marks = "".join(dict.fromkeys(wide))
    fixed = "".join(c.translate(_WIDE) if out else c for c, out in _outside_literals(text))
    return f"表达式中有全角符号 {marks}：请改用半角，写成 {fixed} / use ASCII punctuation"


@functools.lru_cache(maxsize=4096)
def _syntax_tree(text: str) -> Any:
    """cel-python's parse tree of an expression: policies repeat the same expressions, and the
    checker only reads the tree."""
    import celpy

    _load_cel_parser()
    return celpy.Environment().compile(text)


@functools.cache
def _load_cel_parser() -> None:
    """cel-python's parser, with its LALR tables kept in Lark's cache file between processes.

    cel-python builds the tables from its grammar once per process, about half a second of every
    command that reads a policy. Lark's documented ``cache`` option stores them in a file keyed by
    the grammar, the options and the Lark version, so a changed grammar is built again. The
    options are cel-python's own (``celpy.celparser.CELParser``); the file is under the user's
    cache directory (``$XDG_CACHE_HOME/chanye``, else ``~/.cache/chanye``), never a shared /tmp.
    """
    from celpy import celparser

    if celparser.CELParser.CEL_PARSER is not None:
        return
    grammar = (Path(celparser.__file__).parent / "cel.lark").read_text(encoding="utf-8")
    celparser.CELParser.CEL_PARSER = Lark(
        grammar,
        parser="lalr",
        start="expr",
        debug=True,
        g_regex_flags=re.M,
        lexer_callbacks={"IDENT": celparser.CELParser.ambiguous_literals},
        propagate_positions=True,
        maybe_placeholders=False,
        priority="invert",
        tree_class=Tree,
        cache=_parser_cache_file() or False,
    )


def _parser_cache_file() -> str | None:
    """Where Lark keeps the CEL parser's tables; None (no cache) where it cannot be written."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    folder = Path(base) / "chanye"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    return str(folder / "cel-parser.lark")


def param_type(value: Any) -> CelType | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dt.date):
        return "timestamp"
    if isinstance(value, list):
        return "list"
    return None


def _position(tree: Tree[Any] | Token) -> tuple[int, int]:
    if isinstance(tree, Token):
        return tree.line or 1, tree.column or 1
    for token in tree.scan_values(lambda v: isinstance(v, Token)):
        return token.line or 1, token.column or 1
    return 1, 1


class _Checker:
    def __init__(self, params: dict[str, Any], application: Declared, items: Declared) -> None:
        self.params = params
        self.application = application
        self.items = items
        self.problems: list[CelProblem] = []

    def fail(self, at: Tree[Any] | Token, message: str) -> Node:
        line, column = _position(at)
        self.problems.append(CelProblem(line, column, message))
        return Node("error", "bool", line, column)  # a placeholder, so checking goes on

    def node(self, at: Tree[Any] | Token, kind: str, type_: CelType, **extra: Any) -> Node:
        line, column = _position(at)
        args: list[Node] = extra.get("args", [])
        if any(a.kind == "error" for a in args):  # reported already: no follow-on messages
            return Node("error", type_, line, column)
        return Node(kind, type_, line, column, **extra)

    def settled(self, *nodes: Node) -> bool:
        """False when an operand already failed (its problem is reported; say nothing more)."""
        return not any(n.kind == "error" for n in nodes)

    def visit(self, tree: Tree[Any] | Token) -> Node:
        if isinstance(tree, Token):
            return self.literal(tree)
        name = str(tree.data)
        children = tree.children
        if name in (*WRAPPERS, "paren_expr"):
            return self.structural(tree, name, children)
        if name in COMPARISONS or name == "relation_in":
            raise AssertionError("relation operators are handled by their parent")
        if name == "literal" and isinstance(children[0], Token):
            return self.literal(children[0])
        if name == "ident":
            return self.fail(
                tree,
                f"未知的名称 {children[0]!s}：请用 enterprise.字段 或 params.参数 "
                f"/ unknown name {children[0]!s}",
            )
        if name == "member_dot":
            return self.member_dot(tree, children)
        if name == "ident_arg":
            return self.call(tree, str(children[0]), [], children[1] if len(children) > 1 else None)
        if name == "member_dot_arg":
            if str(children[1]) not in (*STRING_METHODS, "size"):
                return self.fail(
                    children[1],
                    f"不支持的方法或宏 {children[1]!s}()（可用：startsWith、endsWith、"
                    f"contains、size）/ unsupported method or macro",
                )
            target = self.visit(children[0])
            return self.call(
                tree, str(children[1]), [target], children[2] if len(children) > 2 else None
            )
        if name == "list_lit":
            return self.list_literal(tree, children)
        return self.fail(tree, f"不支持的 CEL 写法 / unsupported CEL construct: {name}")

    def structural(self, tree: Tree[Any], name: str, children: list[Any]) -> Node:
        if name == "expr" and len(children) == 3:
            return self.ternary(tree, children)
        if name in ("conditionalor", "conditionaland") and len(children) == 2:
            left, right = self.visit(children[0]), self.visit(children[1])
            kind = "or" if name == "conditionalor" else "and"
            for side, at in ((left, children[0]), (right, children[1])):
                if side.type != "bool" and self.settled(side):
                    self.fail(
                        at,
                        f"{'||' if kind == 'or' else '&&'} 两侧须为布尔值，此处是 {side.type} "
                        f"/ operands of {kind} must be bool",
                    )
            return self.node(tree, kind, "bool", args=[left, right])
        if name in ("relation", "addition", "multiplication") and len(children) == 2:
            operator = children[0]
            return self.binary(tree, str(operator.data), operator.children[0], children[1])
        if name == "unary" and len(children) == 2:
            return self.unary(tree, str(children[0].data), children[1])
        if (
            name == "member"
            and isinstance(children[0], Tree)
            and children[0].data == "member_index"
        ):
            return self.fail(tree, "不支持下标访问 / indexing is not supported")
        if len(children) == 1:
            return self.visit(children[0])
        return self.fail(tree, f"不支持的 CEL 写法 / unsupported CEL construct: {name}")

    def literal(self, token: Token) -> Node:
        kind = token.type
        text = str(token)
        if kind == "INT_LIT":
            return self.node(token, "literal", "int", value=int(text, 0))
        if kind == "FLOAT_LIT":
            return self.node(token, "literal", "double", value=float(text))
        if kind == "STRING_LIT":
            import celpy.celtypes  # the library's own unescaping of CEL string literals
            from celpy.evaluation import celstr

            value = celstr(token)
            return self.node(
                token, "literal", "string", value=str(celpy.celtypes.StringType(value))
            )
        if kind == "BOOL_LIT":
            return self.node(token, "literal", "bool", value=text == "true")
        if kind == "NULL_LIT":
            return self.fail(
                token,
                "不支持 null：缺失的数据会使条件不成立，无需与 null 比较 "
                "/ null is not supported (a missing value makes a condition not hold)",
            )
        return self.fail(token, f"不支持的字面量 / unsupported literal {text}")

    def member_dot(self, tree: Tree[Any], children: list[Any]) -> Node:
        base, attribute = children[0], str(children[1])
        root = _ident_of(base)
        if root == "enterprise":
            spec = FIELD_BY_NAME.get(attribute)
            if spec is None:
                return self.fail(
                    children[1],
                    f"未知的企业字段 enterprise.{attribute}（可用：{known_fields_text()}）"
                    f" / unknown enterprise field",
                )
            return self.node(children[1], "field", spec.type, op=attribute)
        if root == "application":
            return self.supplied(children[1], attribute, self.application, "application")
        if root == "item":
            return self.supplied(children[1], attribute, self.items, "item")
        if root == "params":
            if attribute not in self.params:
                known = "、".join(self.params) or "（无）"
                return self.fail(
                    children[1],
                    f"未定义的参数 params.{attribute}（已定义：{known}） / unknown parameter",
                )
            type_ = param_type(self.params[attribute])
            value = self.params[attribute]
            if isinstance(value, Tiers):
                return self.fail(
                    children[1],
                    f"参数 {attribute} 是分档表，请用 tier() 读取其中一档，如 "
                    f"tier(enterprise.output_value, params.{attribute}) / a tier table is read "
                    "with tier()",
                )
            if type_ == "list" and not all(isinstance(v, str) for v in value):
                return self.fail(
                    children[1],
                    f"列表参数 {attribute} 只能包含字符串 / list parameters hold strings",
                )
            if type_ is None:
                return self.fail(
                    children[1], f"参数 {attribute} 的取值类型不受支持 / unsupported parameter type"
                )
            return self.node(children[1], "param", type_, op=attribute)
        return self.fail(
            tree,
            "只能读取 enterprise.字段、application.申报字段、item.项目字段 和 params.参数 / only "
            "enterprise.<field>, application.<field>, item.<field> and params.<name> can be read",
        )

    def supplied(self, at: Token, attribute: str, declared: Declared, root: str) -> Node:
        """``application.<id>`` or ``item.<id>``: a value the applicant supplies, declared in
        the policy file (under ``application``, or under ``items: fields``)."""
        if attribute not in declared:
            names = "、".join(declared) or "（无）"
            where = "application" if root == "application" else "items 的 fields"
            return self.fail(
                at,
                f"未声明的申报字段 {root}.{attribute}：请在政策文件的 {where} 中"
                f"声明（已声明：{names}） / undeclared {root} field",
            )
        name, declared_type = declared[attribute]
        return self.node(at, "field", declared_type, op=name)

    def binary(self, tree: Tree[Any], rule: str, left_tree: Any, right_tree: Any) -> Node:
        left, right = self.visit(left_tree), self.visit(right_tree)
        if not self.settled(left, right):
            return self.node(tree, "error", "bool", args=[left, right])
        if rule == "relation_in":
            return self.membership(tree, left, right)
        if rule in COMPARISONS:
            op = COMPARISONS[rule]
            if not _comparable(left.type, right.type) or (left.type == "list"):
                return self.fail(
                    tree,
                    f"类型不匹配：不能比较 {left.type} 与 {right.type} "
                    f"/ type mismatch: {left.type} {op} {right.type}",
                )
            if op not in ("==", "!=") and left.type == "bool":
                return self.fail(
                    tree, f"布尔值不能比较大小 / bool values cannot be ordered with {op}"
                )
            return self.node(tree, "compare", "bool", op=op, args=[left, right])
        op = ARITHMETIC[rule]
        if left.type not in NUMERIC or right.type not in NUMERIC:
            return self.fail(
                tree,
                f"类型不匹配：{left.type} {op} {right.type} 不是数值运算 "
                f"/ type mismatch: {left.type} {op} {right.type}",
            )
        if left.type != right.type:
            return self.fail(
                tree,
                f"类型不匹配：CEL 不做 int 与 double 的混合运算（{left.type} {op} {right.type}），"
                "请把整数写成小数（如 10.0）或用 double() 转换 "
                f"/ type mismatch: {left.type} {op} {right.type}",
            )
        if op in ("/", "%") and left.type == "int":
            return self.fail(
                tree, f"不支持整数的 {op} 运算，请用 double() 转换 / integer {op} is not supported"
            )
        if op == "%":
            return self.fail(tree, "不支持 % 运算 / % is not supported")
        if op == "/" and not (right.kind in ("literal", "param") and self._nonzero(right)):
            return self.fail(
                tree,
                "除数须为非零的常数或参数（研发强度请用 enterprise.rd_ratio）"
                " / divide only by a non-zero constant or parameter",
            )
        return self.node(tree, "arith", left.type, op=op, args=[left, right])

    def _nonzero(self, node: Node) -> bool:
        value = node.value if node.kind == "literal" else self.params.get(node.op)
        return isinstance(value, int | float) and value != 0

    def membership(self, tree: Tree[Any], item: Node, container: Node) -> Node:
        if container.type != "list":
            return self.fail(
                tree, f"in 的右侧须为列表，此处是 {container.type} / right of 'in' must be a list"
            )
        element = _element_type(container)
        if element is not None and not _comparable(item.type, element):
            return self.fail(tree, f"类型不匹配：{item.type} in list({element}) / type mismatch")
        return self.node(tree, "in", "bool", args=[item, container])

    def unary(self, tree: Tree[Any], rule: str, operand_tree: Any) -> Node:
        operand = self.visit(operand_tree)
        if not self.settled(operand):
            return operand
        if rule == "unary_not":
            if operand.type != "bool":
                return self.fail(tree, f"! 须作用于布尔值，此处是 {operand.type} / ! needs a bool")
            return self.node(tree, "not", "bool", args=[operand])
        if operand.type not in NUMERIC:
            return self.fail(tree, f"负号须作用于数值 / - needs a number, not {operand.type}")
        return self.node(tree, "neg", operand.type, args=[operand])

    def ternary(self, tree: Tree[Any], children: list[Any]) -> Node:
        test, then, other = (self.visit(c) for c in children)
        if not self.settled(test, then, other):
            return self.node(tree, "error", then.type, args=[test, then, other])
        if test.type != "bool":
            return self.fail(children[0], "?: 的条件须为布尔值 / the condition of ?: must be bool")
        if then.type != other.type:
            return self.fail(
                tree,
                f"?: 两个分支类型不同（{then.type} 与 {other.type}）"
                f" / branches of ?: differ in type",
            )
        return self.node(tree, "ternary", then.type, args=[test, then, other])

    def list_literal(self, tree: Tree[Any], children: list[Any]) -> Node:
        items = [self.visit(c) for c in (children[0].children if children else [])]
        types = {i.type for i in items}
        if len(types) > 1 or not items:
            return self.fail(tree, "列表须非空且元素类型一致 / a list needs items of one type")
        if any(i.kind != "literal" for i in items):
            return self.fail(tree, "列表元素须为常量 / list items must be constants")
        return self.node(tree, "list", "list", args=items)

    def call(self, tree: Tree[Any], name: str, args: list[Node], arg_tree: Any) -> Node:
        if name == "tier" and not args:
            return self.tier(tree, arg_tree.children if arg_tree is not None else [])
        args = args + [self.visit(c) for c in (arg_tree.children if arg_tree is not None else [])]
        if not self.settled(*args):
            return self.node(tree, "error", "bool", args=args)
        types = [a.type for a in args]
        if name in HISTORY_FUNCTIONS:
            return self.history(tree, name, args)
        if name in ("min", "max"):
            if len(args) != 2 or any(t not in NUMERIC for t in types):
                return self.fail(tree, f"{name}() 需要两个数值参数 / {name}() takes two numbers")
            result: CelType = "int" if types == ["int", "int"] else "double"
            return self.node(tree, "call", result, op=name, args=args)
        if name == "size":
            if len(args) != 1 or types[0] not in ("list", "string"):
                return self.fail(
                    tree, "size() 需要一个列表或字符串 / size() takes a list or string"
                )
            return self.node(tree, "call", "int", op=name, args=args)
        if name in STRING_METHODS:
            if types != ["string", "string"]:
                return self.fail(
                    tree,
                    f'{name}() 用于字符串，如 enterprise.industry_code.{name}("38") '
                    f"/ {name}() is a string method",
                )
            return self.node(tree, "call", "bool", op=name, args=args)
        if name in ("int", "double"):
            if len(args) != 1 or types[0] not in NUMERIC:
                return self.fail(tree, f"{name}() 需要一个数值 / {name}() takes a number")
            return self.node(tree, "call", name, op=name, args=args)  # type: ignore[arg-type]
        if name == "timestamp":
            if len(args) != 1 or args[0].kind != "literal" or args[0].type != "string":
                return self.fail(
                    tree, "timestamp() 需要一个日期字符串常量 / timestamp() takes a string constant"
                )
            try:
                moment = dt.datetime.fromisoformat(str(args[0].value).replace("Z", "+00:00"))
            except ValueError:
                return self.fail(tree, f"无法识别的时间 {args[0].value!r} / not a timestamp")
            moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
            return self.node(tree, "literal", "timestamp", value=moment.astimezone(dt.UTC))
        return self.fail(
            tree,
            f"不支持的函数 {name}()（可用：min、max、tier、size、startsWith、endsWith、"
            f"contains、int、double、timestamp、{'、'.join(HISTORY_FUNCTIONS)}）"
            "/ unsupported function",
        )

    def tier(self, tree: Tree[Any], children: list[Any]) -> Node:
        """``tier(x, params.table)``: the table's value for ``x`` (the node keeps the table's
        name; every engine reads the table from the parameters it runs with)."""
        if len(children) != 2:
            return self.fail(
                tree, f"tier() 需要两个参数：{TIER_USAGE} / tier() takes a number and a table"
            )
        table = _param_name(children[1])
        value = self.visit(children[0])
        if not isinstance(self.params.get(table or ""), Tiers):
            tables = "、".join(n for n, v in self.params.items() if isinstance(v, Tiers))
            return self.fail(
                children[1],
                f"tier() 的第二个参数须为分档表参数（已定义的分档表：{tables or '无'}）："
                f"{TIER_USAGE}；分档表在 parameters 中写成 - {{from: 起点, amount: 金额}} "
                "/ the second argument of tier() is a tier-table parameter",
            )
        if not self.settled(value):
            return value
        if value.type not in NUMERIC:
            return self.fail(
                children[0],
                f"tier() 的第一个参数须为数值（如 enterprise.output_value），此处是 {value.type} "
                "/ tier() reads a number",
            )
        return self.node(tree, "call", "double", op="tier", value=table, args=[value])

    def history(self, tree: Tree[Any], name: str, args: list[Node]) -> Node:
        """A history function with constant arguments is a field of its own (its value as of
        the date is worked out over the whole city, like any other field)."""
        given: list[tuple[str, object]] = []
        for arg in args:
            if arg.kind == "field":
                given.append(("field", arg.op))
            elif arg.kind == "literal":
                given.append(("literal", arg.value))
            elif arg.kind == "param":
                given.append(("literal", self.params[arg.op]))
            else:
                given.append(("other", None))
        found = call_field(name, given)
        if isinstance(found, str):
            return self.fail(tree, found)
        return self.node(tree, "field", found.type, op=found.name)


def _param_name(tree: Any) -> str | None:
    """The name ``params.<name>`` reads, when ``tree`` is nothing else."""
    while isinstance(tree, Tree) and tree.data in WRAPPERS and len(tree.children) == 1:
        tree = tree.children[0]
    if isinstance(tree, Tree) and tree.data == "member_dot":
        base, attribute = tree.children
        return str(attribute) if _ident_of(base) == "params" else None
    return None


def _ident_of(tree: Any) -> str | None:
    """The identifier a member expression starts from, when it is a plain identifier."""
    while isinstance(tree, Tree) and tree.data in ("member", "primary") and len(tree.children) == 1:
        tree = tree.children[0]
    if isinstance(tree, Tree) and tree.data == "ident":
        return str(tree.children[0])
    return None


def _comparable(left: CelType, right: CelType) -> bool:
    return left == right or (left in NUMERIC and right in NUMERIC)


def _element_type(container: Node) -> CelType | None:
    if container.kind == "list":
        return container.args[0].type
    return "string"  # tags and clusters are lists of strings; list parameters hold strings
