"""The loader accepts a good system file and names file, key path and fault for each bad one."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from chanye.system.loader import SystemFileError, default_system_text, load_system

Raw = dict[str, Any]


@pytest.fixture(scope="module")
def default_raw() -> Raw:
    return tomllib.loads(default_system_text())


def write(tmp_path: Path, raw: Raw, name: str = "city.toml") -> Path:
    path = tmp_path / name
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    return path


def cluster(raw: Raw, cluster_id: str) -> Raw:
    found: Raw = next(c for c in raw["clusters"] if c["id"] == cluster_id)
    return found


def test_default_file_round_trips_through_a_file(tmp_path: Path, default_raw: Raw) -> None:
    system = load_system(write(tmp_path, default_raw))
    assert len(system.clusters) == 15


def _set(path: list[Any], value: Any) -> Callable[[Raw], None]:
    def mutate(raw: Raw) -> None:
        node = raw
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return mutate


def _unknown_key(raw: Raw) -> None:
    cluster(raw, "icv-nev")["colour"] = "red"


def _missing_name(raw: Raw) -> None:
    del cluster(raw, "icv-nev")["name"]


def _duplicate_cluster(raw: Raw) -> None:
    cluster(raw, "ai")["id"] = "icv-nev"


def _duplicate_link(raw: Raw) -> None:
    cluster(raw, "ai")["links"][0]["id"] = "icv-nev-battery"


def _bad_code(raw: Raw) -> None:
    link = next(lk for lk in cluster(raw, "icv-nev")["links"] if lk["id"] == "icv-nev-battery")
    link["codes"] = ["9999"]


def _negative_target(raw: Raw) -> None:
    cluster(raw, "icv-nev")["target"]["revenue_yuan"] = -1.0e12


def _text_target(raw: Raw) -> None:
    cluster(raw, "icv-nev")["target"]["revenue_yuan"] = "一万亿"


def _unknown_office_industry(raw: Raw) -> None:
    raw["governance"]["offices"][0]["industries"] = ["flying-cars"]


def _unknown_tier(raw: Raw) -> None:
    cluster(raw, "icv-nev")["tier"] = "legendary"


def _unknown_source(raw: Raw) -> None:
    cluster(raw, "icv-nev")["target"]["source"] = "rumour"


def _bad_id(raw: Raw) -> None:
    cluster(raw, "icv-nev")["id"] = "ICV NEV"


def _bad_stage(raw: Raw) -> None:
    cluster(raw, "icv-nev")["links"][0]["stage"] = "sideways"


def _years_reversed(raw: Raw) -> None:
    raw["targets"][0]["target_year"] = 2020


CASES = [
    (_unknown_key, "clusters[icv-nev].colour", "未知的键", "unknown key"),
    (_missing_name, "clusters[icv-nev].name", "缺少必填项", "Field required"),
    (_duplicate_cluster, "clusters[icv-nev].id", "重复", "duplicate id 'icv-nev' among industries"),
    (
        _duplicate_link,
        "links[icv-nev-battery].id",
        "重复",
        "duplicate id 'icv-nev-battery' among chain links",
    ),
    (
        _bad_code,
        "clusters[icv-nev].links[icv-nev-battery].codes[0]",
        "不是 GB/T 4754-2017",
        "'9999' is not a GB/T 4754-2017 industry code",
    ),
    (_negative_target, "clusters[icv-nev].target.revenue_yuan", "数值必须大于", "greater than 0"),
    (_text_target, "clusters[icv-nev].target.revenue_yuan", "应为数字", "'一万亿'"),
    (
        _unknown_office_industry,
        "governance.offices[office-smart-vehicle].industries[0]",
        "未知的产业",
        "unknown industry 'flying-cars'",
    ),
    (_unknown_tier, "clusters[icv-nev].tier", "未知的梯队", "unknown tier 'legendary'"),
    (_unknown_source, "clusters[icv-nev].target.source", "未知的来源", "unknown source 'rumour'"),
    (_bad_id, "clusters[ICV NEV].id", "格式不符", "should match pattern"),
    (
        _bad_stage,
        "clusters[icv-nev].links[icv-nev-materials].stage",
        "取值不在允许范围内",
        "sideways",
    ),
    (
        _years_reversed,
        "targets[clusters-total-revenue].target_year",
        "应晚于基期年份",
        "must be after baseline year",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "key_path", "zh", "en"), CASES, ids=[c[0].__name__.strip("_") for c in CASES]
)
def test_malformed_file_is_rejected_naming_file_path_and_fault(
    tmp_path: Path,
    default_raw: Raw,
    mutate: Callable[[Raw], None],
    key_path: str,
    zh: str,
    en: str,
) -> None:
    raw = copy.deepcopy(default_raw)
    mutate(raw)
    path = write(tmp_path, raw, "broken.toml")
    with pytest.raises(SystemFileError) as caught:
        load_system(path)
    matching = [p for p in caught.value.problems if key_path in p.field]
    assert matching, f"no problem at {key_path}: {caught.value}"
    message = str(matching[0])
    assert message.startswith(str(path))
    assert zh in message
    assert en in message


def test_toml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "syntax.toml"
    path.write_text('[system]\nid = "x"\nname = \n', encoding="utf-8")
    with pytest.raises(SystemFileError) as caught:
        load_system(path)
    message = str(caught.value)
    assert str(path) in message and "TOML 语法错误" in message and "line 3" in message


def test_missing_file_and_wrong_encoding(tmp_path: Path) -> None:
    with pytest.raises(SystemFileError, match="文件不存在 / file not found"):
        load_system(tmp_path / "nowhere.toml")
    gbk = tmp_path / "gbk.toml"
    gbk.write_bytes('name = "广州"'.encode("gbk"))
    with pytest.raises(SystemFileError, match="UTF-8"):
        load_system(gbk)


def test_every_problem_is_reported_at_once(tmp_path: Path, default_raw: Raw) -> None:
    raw = copy.deepcopy(default_raw)
    _bad_code(raw)
    _unknown_tier(raw)
    _unknown_source(raw)
    with pytest.raises(SystemFileError) as caught:
        load_system(write(tmp_path, raw))
    assert len(caught.value.problems) == 3


ANOTHER_CITY = """
[system]
id = "riverside-2030"
name = "河畔市现代产业体系"
city = "河畔市"
city_code = "990100"
baseline_year = 2025
target_year = 2030

[[sources]]
id = "plan"
title = "河畔市产业规划"
publisher = "河畔市人民政府"

[requirement]
id = "manufacturing-first"
name = "制造立市"
meaning = "以制造业为根本。"
source = "plan"

[[directions]]
id = "digital"
name = "数字化转型"
meaning = "用数字技术改造传统产业。"
source = "plan"

[[tiers]]
id = "core"
name = "核心产业"

[[clusters]]
id = "tea"
name = "茶产业"
tier = "core"

[clusters.target]
level = "百亿级"
revenue_yuan = 1.0e10
year = 2030
source = "plan"

[[clusters.links]]
id = "tea-growing"
name = "茶叶种植"
stage = "upstream"
codes = ["0164"]
keywords = ["茶园"]
"""


def test_another_city_is_just_another_file(tmp_path: Path) -> None:
    path = tmp_path / "riverside.toml"
    path.write_text(ANOTHER_CITY, encoding="utf-8")
    system = load_system(path)
    assert system.system.city == "河畔市"
    assert [c.id for c in system.clusters] == ["tea"]
    assert system.clusters[0].target is not None
    assert system.clusters[0].target.level == "百亿级"
