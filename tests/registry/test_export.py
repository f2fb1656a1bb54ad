"""Export: Chinese headers, re-importable, and spreadsheet formulas neutralised."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.parquet as pq
from openpyxl import load_workbook

from chanye.registry.context import RegistryContext
from chanye.registry.importer import import_file
from tests.registry.conftest import ANALYST
from tests.registry.factory import row, uscc, write_csv

FORMULA_NAME = '=HYPERLINK("http://example.invalid","点我")'


def _imported(context: RegistryContext, tmp_path: Path) -> None:
    rows = [row(1), row(2, **{"企业名称": FORMULA_NAME, "经营范围": "@SUM(1+1)"})]
    result = import_file(
        context.database_url,
        context.paths,
        context.system,
        write_csv(tmp_path / "in.csv", rows),
        ANALYST,
    )
    assert result.exit_code == 0


def test_csv_export_escapes_formulas_and_round_trips(
    context: RegistryContext, tmp_path: Path
) -> None:
    _imported(context, tmp_path)
    reader = context.reader()
    try:
        assert reader.export(tmp_path / "out.csv") == 2
    finally:
        reader.close()
    with (tmp_path / "out.csv").open(encoding="utf-8") as handle:
        records = list(csv.DictReader(handle))
    by_uscc = {r["统一社会信用代码"]: r for r in records}
    assert by_uscc[uscc(2)]["企业名称"] == "'" + FORMULA_NAME
    assert by_uscc[uscc(2)]["经营范围"] == "'@SUM(1+1)"
    assert by_uscc[uscc(1)]["营业收入（元）"] == "50000000.0"
    assert by_uscc[uscc(1)]["企业标签"] == "高新技术企业"
    assert by_uscc[uscc(1)]["产业集群"] == "icv-nev"
    # Re-importing the export changes nothing but the escaped texts.
    again = import_file(
        context.database_url, context.paths, context.system, tmp_path / "out.csv", ANALYST
    )
    assert again.exit_code == 0 and again.inserted == 0


def test_xlsx_and_parquet_exports(context: RegistryContext, tmp_path: Path) -> None:
    _imported(context, tmp_path)
    reader = context.reader()
    try:
        reader.export(tmp_path / "out.xlsx")
        reader.export(tmp_path / "out.parquet")
    finally:
        reader.close()
    sheet = load_workbook(tmp_path / "out.xlsx").active
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert values[0][:2] == ["统一社会信用代码", "企业名称"]
    assert "'" + FORMULA_NAME in [v[1] for v in values]
    table = pq.read_table(tmp_path / "out.parquet")
    assert (
        table.num_rows == 2 and FORMULA_NAME in table.column("企业名称").to_pylist()
    )  # data file: verbatim
