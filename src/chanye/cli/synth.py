"""``chanye synth ...``: synthetic data on the command line (see docs/cli.md).

The main CLI registers ``synth_app`` as ``chanye synth``; ``python -m chanye.cli.synth`` runs it
alone.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from chanye.system.loader import load_default_system

synth_app = typer.Typer(
    help="Synthetic data for demos, tests and benchmarks (合成数据).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
USAGE_ERROR = 2


@synth_app.callback()
def synth() -> None:
    """Synthetic data for demos, tests and benchmarks (合成数据)."""


def _refuse(zh: str, en: str) -> typer.Exit:
    err.print(f"错误：{zh} / error: {en}", markup=False)
    return typer.Exit(USAGE_ERROR)


def _whole_number(option: str, text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise _refuse(
            f"{option} 应为不小于 {minimum} 的整数（收到“{text}”）",
            f"{option} must be a whole number ≥ {minimum} (got {text!r})",
        )
    return value


def _fraction(option: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise _refuse(
            f"{option} 应为 0 到 1 之间的比例（收到“{text}”）",
            f"{option} must be a fraction between 0 and 1 (got {text!r})",
        )
    return value


@synth_app.command("city")
def city_command(
    enterprises: Annotated[
        str, typer.Option("--enterprises", "-n", metavar="N", help="Number of enterprises (≥ 1).")
    ],
    seed: Annotated[
        str, typer.Option("--seed", metavar="S", help="Random seed (whole number ≥ 0).")
    ],
    output: Annotated[
        Path, typer.Option("--out", metavar="PATH", help="Output file: .csv, .parquet or .xlsx.")
    ],
    dirty: Annotated[
        str,
        typer.Option(
            "--dirty", metavar="FRACTION", help="Share of rows to spoil on purpose (0 to 1)."
        ),
    ] = "0",
    history: Annotated[
        Path | None,
        typer.Option(
            "--history",
            metavar="DIR",
            help="Also write the city's past to DIR: yearly figures, 快报, qualifications.",
        ),
    ] = None,
) -> None:
    """Write a synthetic city's enterprise file (Chinese headers, money in 万元).

    The same N, seed and --dirty always give the same bytes. Exit 2 on a bad option.
    """
    # Imported here: the generator's tables cost a quarter of a second, which every other
    # chanye command would otherwise pay at start-up.
    from chanye.synth.city import (
        SPOIL_KINDS,
        CityFileError,
        check_output,
        generate_city,
        write_city,
    )

    n = _whole_number("--enterprises", enterprises, 1)
    seed_value = _whole_number("--seed", seed, 0)
    fraction = _fraction("--dirty", dirty)
    try:
        check_output(output, n)
    except CityFileError as exc:
        raise _refuse(exc.zh, exc.en) from None
    started = time.perf_counter()
    past: dict[str, Path] = {}
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("加载产业体系 / loading the system")

        def step(label: str) -> None:
            bar.update(task, description=label)

        system = load_default_system()
        city = generate_city(n, seed_value, system, fraction, progress=step)
        step(f"写入 / writing {output.name}")
        write_city(city, output)
        if history is not None:
            from chanye.synth.history import generate_history, write_history

            step("生成历年数据 / drawing the past")
            past = write_history(generate_history(city, seed_value, system), history)
    seconds = time.perf_counter() - started
    if fraction > 0:
        counts = ", ".join(f"{kind} {len(city.spoiled[kind])}" for kind in SPOIL_KINDS)
        total = sum(len(rows) for rows in city.spoiled.values())
        err.print(f"已故意破坏 {total} 行 / spoiled {total} rows: {counts}", markup=False)
    out.print(
        f"已写入 {n} 行 → {output}（{seconds:.1f} 秒）/ wrote {n} rows to {output} in "
        f"{seconds:.1f} s",
        markup=False,
    )
    if past:
        names = "、".join(path.name for path in past.values())
        out.print(f"历年数据 / the past → {history}：{names}", markup=False)


if __name__ == "__main__":
    synth_app()
