"""One Problem and one RefusedError for every refusal: the messages read the same everywhere."""

from __future__ import annotations

from chanye.portal.accounts import AccountRefusedError
from chanye.problems import Problem, ReasonRefusedError, RefusedError
from chanye.registry.changes import ChangeRefusedError


def test_a_problem_names_where_then_says_what_in_both_languages() -> None:
    assert (
        str(Problem("email", "邮箱格式不对", "not an e-mail"))
        == "email: 邮箱格式不对 / not an e-mail"
    )
    in_file = Problem("clusters[2].id", "重复", "duplicate", file="gz.toml")
    assert str(in_file) == "gz.toml: clusters[2].id: 重复 / duplicate"
    assert str(Problem("", "文件不存在", "file not found", file="x.toml")) == (
        "x.toml: 文件不存在 / file not found"
    )


def test_a_refusal_carries_every_problem() -> None:
    refused = AccountRefusedError(
        [Problem("username", "已被使用", "taken"), Problem("email", "无效", "invalid")]
    )
    assert isinstance(refused, RefusedError)
    assert refused.zh == "已被使用；无效" and refused.en == "taken; invalid"
    assert str(refused) == "username: 已被使用 / taken; email: 无效 / invalid"
    one = AccountRefusedError.because("mobile", "无效", "invalid")
    assert isinstance(one, AccountRefusedError) and one.problems == [
        Problem("mobile", "无效", "invalid")
    ]


def test_a_refusal_for_one_reason_reads_zh_slash_en() -> None:
    refused = ChangeRefusedError("没有这次变更", "no such change")
    assert isinstance(refused, ReasonRefusedError)
    assert (refused.zh, refused.en, str(refused)) == (
        "没有这次变更",
        "no such change",
        "没有这次变更 / no such change",
    )
