"""The synthetic city's past: calibrated growth, nothing before founding, tags held by dated
recognitions, and files the registry imports as they are."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

from chanye.registry.importer import import_file
from chanye.registry.schema import TAG_LABELS
from chanye.registry.storage import RegistryPaths
from chanye.store.audit import Actor
from chanye.store.migrate import upgrade
from chanye.synth.city import SynthCity, generate_city, load_profile
from chanye.synth.history import FILES, CityHistory, generate_history
from chanye.system.loader import load_default_system
from chanye.system.model import IndustrialSystem
from tests.conftest import run_cli

N = 20_000
SEED = 11
TODAY = dt.date(2026, 12, 1)
SLIPPING = ("icv-nev", "new-energy-storage", "shipbuilding-marine")


@pytest.fixture(scope="module")
def system() -> IndustrialSystem:
    return load_default_system()


@pytest.fixture(scope="module")
def city(system: IndustrialSystem) -> SynthCity:
    return generate_city(N, SEED, system, stands_for=3_600_000)


@pytest.fixture(scope="module")
def past(city: SynthCity, system: IndustrialSystem) -> CityHistory:
    return generate_history(city, SEED, system)


def _column(table: pa.Table, name: str) -> list:  # type: ignore[type-arg]
    return table.column(name).to_pylist()


def _row_of(city: SynthCity) -> dict[str, int]:
    return {u: i for i, u in enumerate(_column(city.table, "统一社会信用代码"))}


def test_each_cluster_grows_along_its_path_to_the_lists_revenue(
    city: SynthCity, past: CityHistory
) -> None:
    profile = load_profile()
    clusters = city.intended_cluster
    row_of = _row_of(city)
    annual_2024 = defaultdict(float)
    for uscc, value in zip(
        _column(past.annual, "统一社会信用代码"),
        _column(past.annual, "2024年营业收入（千元）"),
        strict=True,
    ):
        annual_2024[clusters[row_of[uscc]]] += (value or 0) * 1000
    for cluster_id, by_year in past.cluster_revenue_yuan.items():
        assert by_year[2024] == pytest.approx(city.cluster_targets_yuan[cluster_id], abs=1)
        assert annual_2024[cluster_id] == pytest.approx(by_year[2024], abs=1)
        growth = profile.raw["clusters"][cluster_id]["growth"]
        for year, rate in zip(range(2021, 2025), growth, strict=True):
            assert by_year[year] / by_year[year - 1] - 1 == pytest.approx(rate, abs=1e-4)


def test_the_clusters_grew_about_7_5_percent_a_year_and_three_slip(past: CityHistory) -> None:
    total = {y: sum(c[y] for c in past.cluster_revenue_yuan.values()) for y in range(2020, 2025)}
    assert total[2024] == pytest.approx(4.0e12, rel=1e-6)
    assert 0.07 < (total[2024] / total[2021]) ** (1 / 3) - 1 < 0.08
    for cluster_id, ytd in past.cluster_ytd_yuan.items():
        december = ytd["2025-12"] / ytd["2024-12"] - 1
        february = ytd["2025-02"] / ytd["2024-02"] - 1
        if cluster_id in SLIPPING:
            assert december < february - 0.02, cluster_id  # 1—N月 growth falls through the year
        by_year = past.cluster_revenue_yuan[cluster_id]
        if cluster_id == "icv-nev":  # slower every year: 2024 well below 2021
            assert by_year[2024] / by_year[2023] < by_year[2022] / by_year[2021] - 0.05


def test_nothing_is_known_of_a_firm_before_it_was_founded(
    city: SynthCity, past: CityHistory
) -> None:
    founded = {
        u: dt.date.fromisoformat(d)
        for u, d in zip(
            _column(city.table, "统一社会信用代码"), _column(city.table, "成立日期"), strict=True
        )
    }
    usccs = _column(past.annual, "统一社会信用代码")
    for year in range(2020, 2025):
        values = _column(past.annual, f"{year}年营业收入（千元）")
        assert any(v is not None for v in values)
        assert all(
            founded[u].year <= year for u, v in zip(usccs, values, strict=True) if v is not None
        )
    recognised = zip(
        _column(past.qualifications, "统一社会信用代码"),
        _column(past.qualifications, "认定日期"),
        strict=True,
    )
    assert all(founded[u] <= dt.date.fromisoformat(d) for u, d in recognised)
    reported = set(usccs)
    assert all(d.year <= 2024 for u, d in founded.items() if u in reported)


def _held_kinds(past: CityHistory, system: IndustrialSystem, on: dt.date) -> dict[str, set[str]]:
    years = {k.label: (k.id, k.valid_years) for k in system.qualification_kinds}
    held: dict[str, set[str]] = defaultdict(set)
    for uscc, label, start, until in zip(
        *(
            _column(past.qualifications, h)
            for h in ("统一社会信用代码", "资质", "认定日期", "有效期至")
        ),
        strict=True,
    ):
        kind, valid_years = years[label]
        begin = dt.date.fromisoformat(start)
        end = (
            dt.date.fromisoformat(until)
            if until
            else begin.replace(year=begin.year + valid_years) - dt.timedelta(days=1)
            if valid_years
            else dt.date.max
        )
        if begin <= on <= end:
            held[uscc].add(kind)
    return held


def test_every_list_tag_is_held_today_by_a_dated_recognition(
    city: SynthCity, past: CityHistory, system: IndustrialSystem
) -> None:
    tag_of = {labels[0]: tag for tag, labels in TAG_LABELS.items()}
    held = _held_kinds(past, system, TODAY)
    tagged = 0
    for uscc, labels in zip(
        _column(city.table, "统一社会信用代码"), _column(city.table, "企业标签"), strict=True
    ):
        tags = {tag_of[label] for label in (labels or "").split("、") if label}
        tagged += bool(tags)
        assert tags <= held.get(uscc, set()), uscc
    assert tagged > 500
    # Not only today's holders: some recognitions lapsed, some were renewals, some left 规上.
    ever = _held_kinds(past, system, dt.date(2021, 12, 31))
    assert any(
        "high_tech" in kinds and "high_tech" not in held.get(u, set()) for u, kinds in ever.items()
    )
    starts = defaultdict(list)
    for uscc, label, start in zip(
        *(_column(past.qualifications, h) for h in ("统一社会信用代码", "资质", "认定日期")),
        strict=True,
    ):
        starts[(uscc, label)].append(start)
    assert any(len(v) > 1 for (u, label), v in starts.items() if label == "高新技术企业")
    assert any(until for until in _column(past.qualifications, "有效期至"))  # 退库


def test_the_same_city_and_seed_give_the_same_past(
    city: SynthCity, past: CityHistory, system: IndustrialSystem
) -> None:
    again = generate_history(city, SEED, system)
    assert again.annual.equals(past.annual)
    assert again.monthly.equals(past.monthly)
    assert again.qualifications.equals(past.qualifications)
    other = generate_history(city, SEED + 1, system)
    assert not other.annual.equals(past.annual)


def test_the_files_import_as_they_are_and_show_on_the_enterprise(tmp_path: Path) -> None:
    """As a user would: write the city and its past, import the four files (the import command
    is tested as a process elsewhere), read one enterprise back."""
    city_file, folder = tmp_path / "city.csv", tmp_path / "past"
    made = run_cli(
        "synth",
        "city",
        "-n",
        "3000",
        "--seed",
        "5",
        "--out",
        str(city_file),
        "--history",
        str(folder),
        data_dir=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    assert FILES["annual"] in made.stdout
    database_url = f"sqlite:///{tmp_path / 'chanye.db'}"
    upgrade(database_url)
    system, paths = load_default_system(), RegistryPaths.under(tmp_path)
    for name in (
        "city.csv",
        *(f"past/{FILES[k]}" for k in ("annual", "monthly", "qualifications")),
    ):
        loaded = import_file(
            database_url, paths, system, tmp_path / name, Actor(name="t", role="admin")
        )
        assert (loaded.status, loaded.rejected) == ("done", 0), name
    monthly = pa_csv.read_csv(folder / FILES["monthly"])
    uscc = monthly.column("统一社会信用代码")[0].as_py()
    shown = json.loads(run_cli("registry", "show", uscc, "--json", data_dir=tmp_path).stdout)
    annual = pa_csv.read_csv(folder / FILES["annual"]).to_pylist()
    row = next(r for r in annual if r["统一社会信用代码"] == uscc)
    for year in range(2020, 2025):
        expected = row[f"{year}年营业收入（千元）"]
        if expected is not None:
            assert shown["history"]["revenue"][str(year)] == pytest.approx(expected * 1000)
    mine = [r for r in monthly.to_pylist() if r["统一社会信用代码"] == uscc]
    december = next(r for r in mine if r["期间"] == "2025年12月")
    assert shown["monthly"]["revenue"]["2025-12"]["ytd"] == pytest.approx(
        december["营业收入累计（千元）"] * 1000
    )
    assert "above_scale" in {q["kind"] for q in shown["qualifications"]}
    assert np.isclose(shown["history"]["revenue"]["2024"], shown["revenue"])
