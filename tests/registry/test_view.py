"""The one read path into the registry: ``RegistryView`` and the process's single view."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa

from chanye.registry.context import RegistryContext
from chanye.registry.importer import import_file
from chanye.registry.overrides import set_override
from chanye.registry.queries import shared_reader
from chanye.registry.view import RegistryView, registry_view
from tests.registry.conftest import ANALYST
from tests.registry.factory import row, uscc, write_csv

ROWS = [
    row(1),
    row(2, **{"营业收入（万元）": "8000"}),
    row(
        3, **{"企业名称": "广州测试3号餐饮管理有限公司", "经营范围": "餐饮服务", "行业代码": "6210"}
    ),
]


def imported(
    context: RegistryContext, tmp_path: Path, rows: list[list[str]] = ROWS, name: str = "in.csv"
) -> None:
    path = write_csv(tmp_path / name, rows)
    result = import_file(context.database_url, context.paths, context.system, path, ANALYST)
    assert result.exit_code == 0


def _address(column: pa.ChunkedArray) -> int:
    return int(column.chunk(0).buffers()[1].address)


def test_columns_come_straight_from_the_snapshot_in_row_order(
    context: RegistryContext, tmp_path: Path
) -> None:
    imported(context, tmp_path)
    view = registry_view(context)
    table = view.columns(["uscc", "revenue", "clusters"])
    assert table.column_names == ["uscc", "revenue", "clusters"]
    assert view.size == table.num_rows == 3
    by_uscc = dict(zip(table["uscc"].to_pylist(), table["revenue"].to_pylist(), strict=True))
    assert by_uscc == {uscc(1): 5.0e7, uscc(2): 8.0e7, uscc(3): 5.0e7}
    record = view.record(uscc(2))
    assert record is not None and record["revenue"] == 8.0e7 and not record["overridden"]
    assert view.record("91440106NOSUCH0000") is None
    assert (
        view.records([uscc(1), uscc(3)], ["name"])[uscc(3)]["name"] == "广州测试3号餐饮管理有限公司"
    )


def test_one_view_per_registry_state_shared_by_every_caller(
    context: RegistryContext, tmp_path: Path
) -> None:
    imported(context, tmp_path)
    seen: list[tuple[RegistryView, int]] = []

    def read() -> None:
        view = registry_view(context)
        seen.append((view, _address(view.column("revenue"))))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(view) for view, _ in seen}) == 1  # one view ...
    assert len({address for _, address in seen}) == 1  # ... whose column was read once
    assert shared_reader(seen[0][0]) is shared_reader(seen[0][0])  # and one search reader


def test_an_override_replaces_the_view_and_shows_in_its_columns(
    context: RegistryContext, tmp_path: Path
) -> None:
    imported(context, tmp_path)
    before = registry_view(context)
    placed = dict(
        zip(before.column("uscc").to_pylist(), before.column("clusters").to_pylist(), strict=True)
    )
    assert placed[uscc(3)] != ["fashion-consumer"]
    set_override(
        context.database_url,
        context.paths,
        context.system,
        uscc(3),
        ["fashion-consumer"],
        [],
        "实为时尚消费",
        ANALYST,
    )
    after = registry_view(context)
    assert after is not before
    table = after.columns(["uscc", "clusters", "industries"])
    rows = {r["uscc"]: r for r in table.to_pylist()}
    assert rows[uscc(3)]["clusters"] == ["fashion-consumer"]
    assert rows[uscc(3)]["industries"] == ["fashion-consumer"]
    assert rows[uscc(1)]["clusters"] == placed[uscc(1)]  # the others as they were
    record = after.record(uscc(3))
    assert (
        record is not None and record["overridden"] and record["clusters"] == ["fashion-consumer"]
    )
    assert before.column("clusters").to_pylist() == list(placed.values())  # the old view stays


def test_records_mix_held_columns_with_row_groups_and_batches_keep_the_same_values(
    context: RegistryContext, tmp_path: Path
) -> None:
    imported(context, tmp_path)
    view = registry_view(context)
    wanted = [uscc(1), uscc(3)]
    alone = view.records(wanted, ["name", "revenue", "clusters"])
    view.columns(["revenue"])  # held now: taken from memory, the name still from the row groups
    mixed = view.records(wanted, ["name", "revenue", "clusters"])
    with view.keeping_row_groups():
        kept = [view.records(wanted, ["name", "revenue", "clusters"]) for _ in range(2)]
    assert alone == mixed == kept[0] == kept[1]
    assert mixed[uscc(3)]["name"] == "广州测试3号餐饮管理有限公司"
    assert mixed[uscc(3)]["revenue"] == 5.0e7


def test_the_snapshot_in_force_is_mapped_from_one_arrow_file_rebuilt_after_an_undo(
    context: RegistryContext, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    from chanye.registry.changes import rollback
    from chanye.registry.mapped import COLUMNS_FILE

    imported(context, tmp_path)
    first = registry_view(context)
    assert first.snapshot is not None
    first_dir = context.paths.snapshot(first.snapshot)
    assert (first_dir / COLUMNS_FILE).exists()  # written with the snapshot
    imported(
        context, tmp_path, [row(1, **{"营业收入（万元）": "9100"}), *ROWS[1:], row(4)], "2.csv"
    )
    second = registry_view(context)
    assert second.snapshot is not None and second.snapshot != first.snapshot
    assert (context.paths.snapshot(second.snapshot) / COLUMNS_FILE).exists()
    assert not (first_dir / COLUMNS_FILE).exists()  # only the snapshot in force keeps one
    assert second.record(uscc(1))["revenue"] == 9.1e7  # type: ignore[index]

    rollback(context.database_url, context.paths, 2, ANALYST)
    undone = registry_view(context)
    assert undone.snapshot == first.snapshot
    parquet = pq.read_table(sorted(first_dir.glob("records-*.parquet")), memory_map=True)
    mapped = undone.columns(["uscc", "name", "revenue", "tags", "founded_on"])
    assert (first_dir / COLUMNS_FILE).exists()  # brought back on first read
    assert mapped.to_pylist() == parquet.select(mapped.column_names).to_pylist()
    assert mapped.schema == parquet.select(mapped.column_names).schema
    ids = undone.search_ids()  # the default order: largest revenue first, then USCC
    by_id = dict(zip(ids.tolist(), mapped["uscc"].to_pylist(), strict=True))
    assert [by_id[i] for i in (1, 2, 3)] == [uscc(2), uscc(1), uscc(3)]
    assert undone.record(uscc(1))["revenue"] == 5.0e7  # type: ignore[index]
