"""Small enterprise files for tests, with valid USCCs unless asked otherwise."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from stdnum.cn import uscc as stdnum_uscc

HEADERS = [
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
]


def uscc(n: int, district: str = "440106") -> str:
    body = f"91{district}{n:09d}"
    return body + stdnum_uscc.calc_check_digit(body)


def row(n: int, **overrides: str) -> list[str]:
    values = {
        "统一社会信用代码": uscc(n),
        "企业名称": f"广州测试{n}号科技有限公司",
        "所属区": "天河区",
        "行业代码": "3841",
        "经营范围": "动力电池、电池管理系统的研发与制造",
        "成立日期": "2018-05-20",
        "注册资本（万元）": "1000",
        "营业收入（万元）": "5000",
        "从业人员": "120",
        "研发费用（万元）": "300",
        "企业标签": "高新技术企业",
        "登记状态": "存续",
    }
    values.update(overrides)
    return [values[h] for h in HEADERS]


def write_csv(
    path: Path,
    rows: Sequence[Sequence[str]],
    headers: Sequence[str] = HEADERS,
    encoding: str = "utf-8",
    title_rows: Sequence[str] = (),
) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        for title in title_rows:
            handle.write(title + "\n")
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def arrange_registry(data_dir: Path, *files: Path) -> None:
    """Import ``files`` into the registry of ``data_dir`` in this process, as ``chanye registry
    import`` does (the same function, through the composition root): for tests whose subject is
    what a command does over a registry, not the import command (which its own tests run as a
    process). Every file must import whole."""
    from chanye.config import Settings
    from chanye.registry.importer import import_file
    from chanye.root import start
    from chanye.store.audit import Actor

    registry = start(Settings(data_dir=data_dir)).registry()
    for path in files:
        result = import_file(
            registry.database_url,
            registry.paths,
            registry.system,
            path,
            Actor(name="tests", role="admin"),
        )
        assert result.exit_code == 0, f"{path}: {result}"
