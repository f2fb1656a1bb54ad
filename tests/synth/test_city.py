"""The synthetic city: the file a user gets, its realism, its calibration and its dirt."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import ahocorasick
import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from openpyxl import load_workbook
from stdnum.cn import uscc as stdnum_uscc
from typer.testing import CliRunner

from chanye.cli.synth import synth_app
from chanye.registry.schema import TAG_LABELS
from chanye.synth.city import (
    HEADERS,
    SPOIL_KINDS,
    XLSX_MAX_ROWS,
    CityFileError,
    SynthCity,
    check_output,
    generate_city,
    load_profile,
    write_city,
)
from chanye.system.industry_codes import catalogue
from chanye.system.loader import load_default_system
from chanye.system.model import IndustrialSystem

N = 50_000
REFERENCE = 3_600_000
MONEY = ("注册资本（万元）", "营业收入（万元）", "研发费用（万元）")
runner = CliRunner()


@pytest.fixture(scope="module")
def system() -> IndustrialSystem:
    return load_default_system()


@pytest.fixture(scope="module")
def city(system: IndustrialSystem) -> SynthCity:
    return generate_city(N, 7, system)


@pytest.fixture(scope="module")
def csv_path(city: SynthCity, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("city") / "city.csv"
    write_city(city, path)
    return path


@pytest.fixture(scope="module")
def rows(csv_path: Path) -> dict[str, list[str]]:
    """The CSV as a user reads it: every value as the text in the file."""
    options = pa_csv.ConvertOptions(column_types=dict.fromkeys(HEADERS, pa.string()))
    table = pa_csv.read_csv(csv_path, convert_options=options)
    assert table.column_names == list(HEADERS)
    return {h: table.column(h).to_pylist() for h in HEADERS}


def _keywords(system: IndustrialSystem, kinds: tuple[str, ...]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for kind, industry in system.industries():
        if kind in kinds:
            for keyword in industry.all_keywords:
                automaton.add_word(keyword, keyword)
    automaton.make_automaton()
    return automaton


def _district_codes(system: IndustrialSystem) -> dict[str, str]:
    return {label: d.code for d in system.districts for label in (d.code, d.name)}


# --- the file -----------------------------------------------------------------------------------


def test_columns_and_values_look_like_a_bureau_file(
    rows: dict[str, list[str]], system: IndustrialSystem
) -> None:
    districts = _district_codes(system)
    assert all(d in districts for d in rows["所属区"])
    as_code = sum(d.isdigit() for d in rows["所属区"]) / N
    assert 0.08 < as_code < 0.12
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", d) for d in rows["成立日期"])
    dates = [dt.date.fromisoformat(d) for d in rows["成立日期"]]
    assert min(dates) >= dt.date(1980, 1, 1) and max(dates) <= dt.date(2025, 12, 31)
    assert sorted(dates)[N // 2] > dt.date(2012, 1, 1)  # skewed recent
    for header in MONEY:
        assert all(re.fullmatch(r"\d+(\.\d{1,2})?", v) for v in rows[header]), header
    assert all(v.isdigit() for v in rows["从业人员"])
    labels = {labels[0] for labels in TAG_LABELS.values()}
    assert all(t in labels for v in rows["企业标签"] if v for t in v.split("、"))
    closed = Counter(rows["登记状态"])["注销"] / N
    assert set(rows["登记状态"]) == {"存续", "注销"} and 0.05 < closed < 0.09
    classes = {c.code for c in catalogue().classes()}
    assert all(code in classes for code in rows["行业代码"])


def test_every_uscc_valid_unique_and_in_its_district(
    rows: dict[str, list[str]], system: IndustrialSystem
) -> None:
    codes = rows["统一社会信用代码"]
    assert all(stdnum_uscc.is_valid(code) for code in codes)
    assert len(set(codes)) == N
    assert sum(code.startswith("91") for code in codes) / N >= 0.95
    districts = _district_codes(system)
    assert all(c[2:8] == districts[d] for c, d in zip(codes, rows["所属区"], strict=True))


def test_names_unique_and_invented(rows: dict[str, list[str]]) -> None:
    names = rows["企业名称"]
    assert len(set(names)) == N
    assert all(n.startswith("广州") or "（广州）" in n for n in names)
    assert all(n.endswith("公司") for n in names)
    real = ("华为", "腾讯", "广汽", "小鹏", "希音", "网易", "唯品会", "欧派")
    assert not any(brand in name for name in names for brand in real)


def test_district_proportions(rows: dict[str, list[str]], system: IndustrialSystem) -> None:
    districts = _district_codes(system)
    counts = Counter(districts[d] for d in rows["所属区"])
    expected = load_profile().numbers("districts")
    for code, share in expected.items():
        assert abs(counts[code] / N - share) < 0.01, code


# --- numbers ------------------------------------------------------------------------------------


def test_revenue_heavy_tailed_with_zeros_and_correlated(rows: dict[str, list[str]]) -> None:
    revenue = np.array(rows["营业收入（万元）"], dtype=float)
    employees = np.array(rows["从业人员"], dtype=float)
    capital = np.array(rows["注册资本（万元）"], dtype=float)
    founded = np.array(rows["成立日期"], dtype="datetime64[D]")
    young = founded >= np.datetime64("2025-01-01")  # after the list's year: no revenue in it
    assert young.any() and (revenue[young] == 0).all()
    assert 0.07 < np.mean(revenue == 0) < max(0.09, np.mean(young) + 0.01)
    working = revenue > 0
    age = (np.datetime64("2025-12-31") - founded[working]).astype(np.int64)
    assert np.corrcoef(np.log(revenue[working]), age)[0, 1] > 0.4  # older firms are larger
    assert np.median(revenue[working]) < 300  # most firms: a few hundred 万元 or less
    assert revenue.max() > 1000 * np.median(revenue[working])  # and a few giants
    log_revenue = np.log(revenue[working])
    assert np.corrcoef(log_revenue, np.log1p(employees[working]))[0, 1] > 0.6
    assert np.corrcoef(log_revenue, np.log(capital[working]))[0, 1] > 0.4
    rd = np.array(rows["研发费用（万元）"], dtype=float)
    assert np.all(rd <= revenue) and 0.5 < np.mean(rd == 0) < 0.95


def test_tag_rates_and_who_gets_them(rows: dict[str, list[str]], city: SynthCity) -> None:
    tags = [set(v.split("、")) if v else set() for v in rows["企业标签"]]
    label = {tag: labels[0] for tag, labels in TAG_LABELS.items()}
    rate = {tag: sum(label[tag] in t for t in tags) / N for tag in TAG_LABELS}
    assert 0.015 < rate["above_scale"] < 0.04
    revenue = np.array(rows["营业收入（万元）"], dtype=float)
    live = np.array([s == "存续" for s in rows["登记状态"]])
    above = np.array([label["above_scale"] in t for t in tags])
    assert (above == (live & (revenue >= 2000))).all()  # 规上: the 2000万 threshold
    assert rate["high_tech"] == pytest.approx(0.0035, abs=0.0005)
    assert rate["specialized_sme"] == pytest.approx(0.0012, abs=0.0003)
    assert 0 < rate["listed"] < 0.0002 and 0 < rate["chain_leader"] < 0.0001
    assert all(label["specialized_sme"] in t for t in tags if label["little_giant"] in t)
    assert np.median(revenue[above]) > 20 * np.median(revenue)
    leaders = [i for i, t in enumerate(tags) if label["chain_leader"] in t]
    cluster_rows = city.intended_cluster != ""
    largest = np.sort(revenue[cluster_rows])[-len(leaders) :]
    assert all(city.intended_cluster[i] for i in leaders)
    assert sorted(revenue[leaders].tolist()) == largest.tolist()
    high_tech = np.array([label["high_tech"] in t for t in tags])
    in_system = np.isin(city.intended_kind, ["cluster", "future"])
    assert in_system[high_tech].mean() > 0.5  # concentrated in the system's industries


def test_cluster_revenue_calibrated_to_4_trillion(
    rows: dict[str, list[str]], city: SynthCity
) -> None:
    revenue_yuan = np.array(rows["营业收入（万元）"], dtype=float) * 1e4
    scale = REFERENCE / N
    profile = load_profile()
    total_yi = sum(c.revenue_yi for c in profile.clusters.values())
    in_clusters = city.intended_cluster != ""
    assert revenue_yuan[in_clusters].sum() * scale == pytest.approx(4.0e12, rel=0.01)
    for cluster_id, cluster in profile.clusters.items():
        mine = city.intended_cluster == cluster_id
        expected = 4.0e12 * cluster.revenue_yi / total_yi
        assert revenue_yuan[mine].sum() * scale == pytest.approx(expected, rel=0.01), cluster_id
    assert sum(1 for c in profile.clusters.values() if c.revenue_yi >= 1000) == 12


@pytest.mark.parametrize("n", [333, 4_321])
def test_calibration_exact_at_any_size(system: IndustrialSystem, n: int) -> None:
    city = generate_city(n, 3, system)
    revenue = np.rint(np.array(city.table.column("营业收入（万元）").to_pylist()) * 100)
    for cluster_id, target_yuan in city.cluster_targets_yuan.items():
        assert revenue[city.intended_cluster == cluster_id].sum() * 100 == target_yuan
    assert sum(city.cluster_targets_yuan.values()) == round(4.0e12 / 100 * n / REFERENCE) * 100


# --- industries and keywords --------------------------------------------------------------------


def test_industry_mix(city: SynthCity) -> None:
    kinds = Counter(city.intended_kind.tolist())
    assert kinds["cluster"] / N == pytest.approx(0.18, abs=0.001)
    assert kinds["future"] / N == pytest.approx(0.01, abs=0.001)
    assert kinds["service"] / N == pytest.approx(0.25, abs=0.001)
    assert len(set(city.intended_cluster.tolist()) - {""}) == 15


def test_cluster_rows_carry_their_link_and_others_no_system_keyword(
    rows: dict[str, list[str]], city: SynthCity, system: IndustrialSystem
) -> None:
    links = {link.id: link for _, industry in system.industries() for link in industry.links}
    system_keywords = _keywords(system, ("cluster", "future"))
    for i in range(N):
        kind, scope, name = city.intended_kind[i], rows["经营范围"][i], rows["企业名称"][i]
        if kind in ("cluster", "future"):
            link = links[city.intended_link[i]]
            assert any(k in scope for k in link.keywords), (scope, link.id)
            assert any(rows["行业代码"][i].startswith(c) for c in link.codes)
        else:
            assert not list(system_keywords.iter(scope + "\n" + name)), (name, scope)


def test_ordinary_rows_outside_every_industry(
    rows: dict[str, list[str]], city: SynthCity, system: IndustrialSystem
) -> None:
    every_code = [c for _, industry in system.industries() for c in industry.all_codes]
    all_keywords = _keywords(system, ("cluster", "future", "service"))
    ordinary = np.flatnonzero(city.intended_kind == "ordinary")
    assert len(ordinary) > 0.5 * N
    for i in ordinary:
        code = rows["行业代码"][i]
        assert not any(code.startswith(c) for c in every_code), code
        assert not list(all_keywords.iter(rows["经营范围"][i] + "\n" + rows["企业名称"][i]))


# --- determinism and the command ----------------------------------------------------------------


def _run(*args: str) -> None:
    result = runner.invoke(synth_app, ["city", *args])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path, suffix: str) -> None:
    paths = [tmp_path / f"{name}{suffix}" for name in ("a", "b", "c")]
    for path, seed in zip(paths, ("5", "5", "6"), strict=True):
        _run("--enterprises", "300", "--seed", seed, "--out", str(path), "--dirty", "0.1")
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_cli_as_a_process(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "city.csv"
    args = ["city", "--enterprises", "1000", "--seed", "1", "--out", str(out), "--dirty", "0.05"]
    done = subprocess.run(
        [sys.executable, "-m", "chanye.cli.synth", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "1000" in done.stdout and str(out) in done.stdout.replace("\n", "")
    assert "spoiled 50 rows" in done.stderr and "bad_check 10" in done.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1001 and lines[0].replace('"', "").split(",") == list(HEADERS)
    assert not [p for p in out.parent.iterdir() if p.name != "city.csv"]  # no leftovers


@pytest.mark.parametrize(
    ("args", "fault"),
    [
        (["--enterprises", "0", "--seed", "1"], "--enterprises"),
        (["--enterprises", "ten", "--seed", "1"], "--enterprises"),
        (["--enterprises", "10", "--seed", "-1"], "--seed"),
        (["--enterprises", "10", "--seed", "1.5"], "--seed"),
        (["--enterprises", "10", "--seed", "1", "--dirty", "1.5"], "--dirty"),
        (["--enterprises", "10", "--seed", "1", "--dirty", "nan"], "--dirty"),
    ],
)
def test_bad_options_exit_2_with_a_message(tmp_path: Path, args: list[str], fault: str) -> None:
    out = tmp_path / "city.csv"
    result = runner.invoke(synth_app, ["city", *args, "--out", str(out)])
    assert result.exit_code == 2
    assert "错误" in result.output and "error" in result.output and fault in result.output
    assert not out.exists()


def test_output_types(tmp_path: Path) -> None:
    result = runner.invoke(
        synth_app, ["city", "-n", "10", "--seed", "1", "--out", str(tmp_path / "x.json")]
    )
    assert result.exit_code == 2 and ".csv" in result.output
    big = ["city", "-n", str(XLSX_MAX_ROWS + 1), "--seed", "1", "--out", str(tmp_path / "x.xlsx")]
    result = runner.invoke(synth_app, big)
    assert result.exit_code == 2 and "XLSX" in result.output
    with pytest.raises(CityFileError):
        check_output(tmp_path / "x.xlsx", XLSX_MAX_ROWS + 1)
    check_output(tmp_path / "x.xlsx", XLSX_MAX_ROWS)


def test_xlsx_holds_the_same_rows(tmp_path: Path, system: IndustrialSystem) -> None:
    city = generate_city(200, 9, system, dirty=0.05)
    write_city(city, tmp_path / "city.xlsx")
    sheet = load_workbook(tmp_path / "city.xlsx", read_only=True).active
    assert sheet is not None
    cells = list(sheet.iter_rows(values_only=True))
    assert list(cells[0]) == list(HEADERS) and len(cells) == 201
    spoiled_text = set(city.spoiled["text_in_number"].tolist())
    revenue = [row[7] for row in cells[1:]]
    assert all(isinstance(v, str) == (i in spoiled_text) for i, v in enumerate(revenue))
    assert [row[0] for row in cells[1:]] == city.table.column(0).to_pylist()


# --- dirty rows ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "fraction"), [(5_000, 0.1), (997, 0.013), (12, 1.0), (1, 1.0)])
def test_dirty_rows_each_spoiled_one_way(system: IndustrialSystem, n: int, fraction: float) -> None:
    city = generate_city(n, 3, system, dirty=fraction)
    spoiled = city.spoiled
    rows = {h: city.table.column(h).to_pylist() for h in HEADERS}
    count = round(n * fraction)
    assert sum(len(r) for r in spoiled.values()) == count
    every = np.concatenate(list(spoiled.values()))
    assert len(set(every.tolist())) == count  # one way each
    sizes = [len(spoiled[k]) for k in SPOIL_KINDS]
    assert max(sizes) - min(sizes) <= 1 and (count < 5 or min(sizes) > 0)
    districts = _district_codes(system)
    codes = rows["统一社会信用代码"]
    kind_of = {int(i): kind for kind, found in spoiled.items() for i in found}
    for i in range(n):
        kind = kind_of.get(i)
        assert stdnum_uscc.is_valid(codes[i]) == (kind != "bad_check")
        assert (rows["所属区"][i] in districts) == (kind != "unknown_district")
        assert _is_number(rows["营业收入（万元）"][i]) == (kind != "text_in_number")
        assert _is_date(rows["成立日期"][i]) == (kind != "impossible_date")
    repeated = Counter(codes)
    for i in spoiled["duplicate_uscc"]:
        assert repeated[codes[i]] >= 2  # equals another row's USCC
    others = Counter(codes[i] for i in range(n) if kind_of.get(i) != "duplicate_uscc")
    assert all(c == 1 for c in others.values())  # no duplicates but the deliberate ones


def _is_number(text: object) -> bool:
    if isinstance(text, float):
        return True
    try:
        float(str(text))
    except ValueError:
        return False
    return True


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def test_clean_city_has_no_spoiled_rows_and_text_free_numbers(city: SynthCity) -> None:
    assert all(len(rows) == 0 for rows in city.spoiled.values())
    assert pa.types.is_floating(city.table.schema.field("营业收入（万元）").type)


def test_dirt_touches_only_the_spoiled_rows(system: IndustrialSystem) -> None:
    clean = generate_city(2_000, 4, system)
    dirty = generate_city(2_000, 4, system, dirty=0.2)
    spoiled = set(np.concatenate(list(dirty.spoiled.values())).tolist())
    for header in HEADERS:
        before = clean.table.column(header).cast(pa.string()).to_pylist()
        after = dirty.table.column(header).cast(pa.string()).to_pylist()
        changed = {i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b}
        assert changed <= spoiled, header
