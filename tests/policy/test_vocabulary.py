"""Words a policy compares with must be the system's: a tag written in Chinese, a cluster id cut
short, a district by name are refused by ``policy check`` and ``match``, with the id meant."""

from __future__ import annotations

from pathlib import Path

from chanye.policy.demo import demo_policies
from chanye.policy.vocabulary import unknown_words
from chanye.system.loader import load_default_system
from tests.conftest import run_cli

POLICY = """\
id: bad-words
title: 测试
issuer: 广州市工业和信息化局
valid: {from: 2025-01-01, to: 2027-12-31}
parameters: {districts: ["440112", "南沙"]}
conditions:
  - id: tag
    text: 高新技术企业
    when: '"高新技术企业" in enterprise.tags'
  - id: cluster
    text: 低空经济
    when: '"low-altitude" in enterprise.clusters || "人工智能" in enterprise.clusters'
  - id: district
    text: 黄埔区、南沙区
    when: enterprise.district_code == "黄埔区" || enterprise.district_code in params.districts
  - id: event
    text: 新升规
    when: first_recognised_within("abov_scale", 3) && "gazelle" in enterprise.tags
"""


def test_unknown_words_are_refused_with_the_id_meant(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(POLICY, encoding="utf-8")
    for command in (["check", str(path)], ["match", str(path), "--out", str(tmp_path / "o.csv")]):
        result = run_cli("policy", *command, data_dir=tmp_path / "d")
        assert result.returncode == 1, result.stdout
        problems = result.stderr
        assert "条件 tag：未知的企业标签或资质“高新技术企业”，应写作 high_tech" in problems
        lines = path.read_text(encoding="utf-8").splitlines()
        tag_line = 1 + next(n for n, x in enumerate(lines) if "in enterprise.tags" in x)
        assert f"{path}:{tag_line}:5: 条件 tag：" in problems  # the line of the condition's when
        assert "未知的产业“low-altitude”，是否指 low-altitude-aerospace？" in problems
        assert "未知的产业“人工智能”，应写作 ai" in problems
        assert "未知的区划代码“黄埔区”，应写作 440112" in problems
        assert "未知的区划代码“南沙”，应写作 440115" in problems  # a parameter's list too
        assert "未知的企业标签或资质“abov_scale”，是否指 above_scale？" in problems
        assert "gazelle" not in problems  # a kind of the system file is a word of the system


def test_the_demo_policies_use_only_the_systems_words() -> None:
    assert unknown_words(demo_policies(), load_default_system()) == []
