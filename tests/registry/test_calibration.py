"""The synthetic city, imported and classified, matches the published scale: the 15 clusters
together make about 4万亿 at 3.6 million enterprises (checked on a sample, scaled up)."""

from __future__ import annotations

from pathlib import Path

from chanye.registry.context import RegistryContext
from chanye.registry.importer import import_file
from chanye.synth.city import generate_city, write_city
from tests.registry.conftest import ANALYST

SAMPLE = 40_000
CITY = 3_600_000
PUBLISHED_TOTAL = 4.0e12  # 15 clusters' revenue, 2025 conference


def test_classified_cluster_totals_scale_to_the_published_4_wanyi(
    context: RegistryContext, tmp_path: Path
) -> None:
    path = tmp_path / "city.csv"
    write_city(generate_city(SAMPLE, 11, context.system), path)
    result = import_file(context.database_url, context.paths, context.system, path, ANALYST)
    assert result.exit_code == 0 and result.total_after == SAMPLE
    reader = context.reader()
    try:
        by_cluster = reader.stats()["by_cluster"]
    finally:
        reader.close()
    assert len(by_cluster) == 15
    scaled = sum(c["revenue"] for c in by_cluster.values()) * CITY / SAMPLE
    assert abs(scaled - PUBLISHED_TOTAL) / PUBLISHED_TOTAL < 0.10, scaled
    # The biggest cluster is the 万亿-target one, as in the published figures.
    assert max(by_cluster, key=lambda c: by_cluster[c]["revenue"]) in (
        "icv-nev",
        "smart-construction",
    )
