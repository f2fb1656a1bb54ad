"""The ``chanye`` command: its groups assembled, and the commands of no group (see docs/cli.md)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.tree import Tree
from sqlalchemy.exc import OperationalError

from chanye.cli import startup
from chanye.cli.lazy import LazyGroups
from chanye.cli.startup import (
    CLI_ACTOR,
    check_files,
    err,
    migrated_settings,
    out,
    unreachable_database,
)
from chanye.config import Settings
from chanye.registry.context import RegistryContext
from chanye.registry.storage import RegistryPaths, change_in_force
from chanye.store.audit import Actor
from chanye.store.database import database_exists, session_scope
from chanye.system.export import STAGES, system_to_dict
from chanye.system.loader import (
    DEFAULT_SYSTEM_FILE,
    SystemFileError,
    default_system_text,
    load_default_system,
    load_system,
)
from chanye.system.model import KIND_LABELS, STAGE_LABELS, IndustrialSystem, Industry
from chanye.system.versions import load_into_database, system_in_force
from chanye.units import format_percent, format_yuan

app = typer.Typer(
    help="chanye 产业 — a city's modern industrial system as data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=LazyGroups,
)
system_app = typer.Typer(
    help="The industrial system (产业体系): show, check and load.", no_args_is_help=True
)
db_app = typer.Typer(help="The operational database.", no_args_is_help=True)
app.add_typer(system_app, name="system")
app.add_typer(db_app, name="db")

HostOption = Annotated[str | None, typer.Option(help="Address to listen on.")]
PortOption = Annotated[int | None, typer.Option(help="Port to listen on.")]


@app.callback()
def owner_only_files() -> None:
    """chanye 产业 — a city's modern industrial system as data."""
    # Everything chanye writes (database, keys, uploads, snapshots, mail) is for its owner only.
    os.umask(0o077)


# --- system -------------------------------------------------------------------------------------


@system_app.command("show")
def system_show(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a tree.")] = False,
) -> None:
    """Print the industrial system in force as a tree (or JSON)."""
    settings = startup.settings()
    url = settings.resolved_database_url
    if database_exists(url):
        with session_scope(url) as session:
            system = system_in_force(session)
    else:
        system = load_default_system()
    if as_json:
        json.dump(system_to_dict(system), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    out.print(render_tree(system))


def render_tree(system: IndustrialSystem) -> Tree:
    info = system.system
    root = Tree(f"[bold]{info.city}{info.name}[/] ({info.baseline_year}→{info.target_year})")
    root.add(f"1 总体要求：{system.requirement.name}")
    directions = root.add(f"{len(system.directions)} 主攻方向")
    for direction in system.directions:
        directions.add(direction.name)
    for target in system.targets:
        root.add(
            f"目标：{target.name} {format_yuan(target.baseline_yuan)}（{target.baseline_year}）→ "
            f"{format_yuan(target.target_yuan)}（{target.target_year}），"
            f"需年均增长 {format_percent(target.required_growth_rate)}"
        )
    clusters = root.add(f"{len(system.clusters)} {KIND_LABELS['cluster']}")
    for tier in system.tiers:
        branch = clusters.add(f"{tier.name}（{len(system.clusters_in_tier(tier.id))}）")
        for cluster in system.clusters_in_tier(tier.id):
            _add_industry(branch, cluster)
    future = root.add(f"{len(system.future_industries)} {KIND_LABELS['future']}")
    for industry in system.future_industries:
        _add_industry(future, industry)
    services = root.add(f"{len(system.service_industries)} {KIND_LABELS['service']}")
    for industry in system.service_industries:
        services.add(f"{industry.name} [dim]{industry.id}[/]")
    return root


def _add_industry(parent: Tree, industry: Industry) -> None:
    label = f"{industry.name} [dim]{industry.id}[/]"
    if industry.target:
        label += f" 目标 {industry.target.level}（{industry.target.year}）"
    if not industry.confirmed:
        label += " [yellow]待核实[/]"
    node = parent.add(label)
    for stage in STAGES:
        links = industry.links_at(stage)
        if links:
            node.add(f"{STAGE_LABELS[stage]}：" + "、".join(link.name for link in links))


@system_app.command("check")
def system_check(
    files: Annotated[list[Path], typer.Argument(help="System files (TOML) to check.")],
) -> None:
    """Check system files; exit 1 naming the file, key path and fault of every problem."""
    check_files(files, load_system, _system_summary)


def _system_summary(path: Path, system: IndustrialSystem) -> str:
    return (
        f"{path}: OK — {len(system.clusters)} clusters, {len(system.future_industries)} future "
        f"industries, {len(system.service_industries)} service industries"
    )


@system_app.command("load")
def system_load(
    file: Annotated[
        Path | None,
        typer.Argument(help="System file; CHANYE_SYSTEM_FILE or the packaged default if omitted."),
    ] = None,
) -> None:
    """Check a system file and make it the system in force (recorded in the audit log)."""
    _load_system(migrated_settings(), file)


def _load_system(settings: Settings, file: Path | None) -> None:
    file = file or settings.system_file
    text = file.read_text(encoding="utf-8") if file else default_system_text()
    source_name = str(file) if file else DEFAULT_SYSTEM_FILE
    try:
        with session_scope(settings.resolved_database_url) as session:
            result = load_into_database(session, text, source_name, CLI_ACTOR)
    except SystemFileError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        raise typer.Exit(1) from None
    state = "loaded as version" if result.changed else "already in force as version"
    out.print(f"{result.system.system.name}（{source_name}）{state} {result.version_id}")


# --- db -----------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations up to the newest; safe to repeat."""
    migrated_settings()
    out.print("数据库已是最新结构 / database is up to date")


# --- serving ------------------------------------------------------------------------------------


@app.command()
def serve(
    host: HostOption = None,
    port: PortOption = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (Uvicorn's multi-process mode).")
    ] = 1,
) -> None:
    """Serve the web app: one process, or N worker processes sharing one socket."""
    import uvicorn

    from chanye.registry.housekeeping import tidy

    settings = startup.settings()
    # What killed imports left, and uploads past their retention, go before serving.
    tidy(
        RegistryPaths.under(settings.data_dir),
        settings.registry_uploads_dir,
        settings.upload_retention_days,
    )
    trusted = settings.trusted_proxy_list
    uvicorn.run(
        "chanye.web.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        # X-Forwarded-For is believed from the configured proxies only; uvicorn's default would
        # believe any client on loopback, so an attacker there could pick its own address.
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )


@app.command()
def demo(
    host: HostOption = None,
    port: PortOption = None,
    serve_app: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the web app once prepared.")
    ] = True,
) -> None:
    """Prepare a demo (migrate, load the system and a synthetic city) and serve it: `make run`."""
    settings = migrated_settings()
    _load_system(settings, None)
    member_uscc = _load_demo_city(settings)
    logins = _seed_portal(settings, member_uscc)
    _seed_policies(settings)
    url = f"http://{host or settings.host}:{port or settings.port}"
    out.print(f"\nchanye 已就绪 / ready: {url}")
    out.print(
        "登录 / log in: 首页右侧“会员登录”，账号与密码如下（只在本机保存于 "
        f"{settings.data_dir / 'demo' / 'accounts.txt'}）："
    )
    for line in logins:
        out.print("  " + line.replace("\t", "  "), markup=False, soft_wrap=True)
    out.print(
        "工作人员账号首次登录须用手机身份验证器（如 Microsoft Authenticator）绑定双因素登录（等保三级）。"
    )
    if serve_app:
        serve(host=host, port=port, workers=1)


DEMO_SEED = 2025


def _seed_portal(settings: Settings, member_uscc: str | None) -> list[str]:
    from chanye.portal.demo import seed_demo_portal

    with session_scope(settings.resolved_database_url) as session:
        return seed_demo_portal(session, member_uscc, settings.data_dir / "demo" / "accounts.txt")


def _seed_policies(settings: Settings) -> None:
    from chanye.policy.service import seed_demo_policies

    published = seed_demo_policies(RegistryContext.from_settings(settings))
    if published:
        out.print(
            f"已发布 {published} 项演示政策并完成免申即享匹配 / demo policies published and matched"
        )


def _load_demo_city(settings: Settings) -> str | None:
    """An empty registry gets a synthetic city (invented enterprises) so every page has data.
    Returns the USCC of the largest enterprise in the 15 clusters (the demo member's)."""
    from chanye.registry.queries import SearchQuery  # only the demo searches
    from chanye.registry.scope import Scope

    context = RegistryContext.from_settings(settings)
    with session_scope(context.database_url) as session:
        loaded = change_in_force(session) is not None
    if not loaded and settings.demo_enterprises > 0:
        _generate_demo_city(settings, context)
    reader = context.reader()
    if reader.snapshot is None:
        reader.close()
        return None
    try:
        clusters = Scope.of_industries(c.id for c in context.system.clusters)
        in_clusters = SearchQuery(scope=clusters, page_size=1)
        rows = reader.search(in_clusters).rows
    finally:
        reader.close()
    return str(rows[0]["uscc"]) if rows else None


def _generate_demo_city(settings: Settings, context: RegistryContext) -> None:
    """The demo city and its past: the enterprise list, then its yearly figures, 快报 and
    qualifications, each imported as a user would (one recorded, undoable change each)."""
    from chanye.registry.fact_headers import KIND_LABELS as CONTENT_LABELS
    from chanye.registry.importer import import_file
    from chanye.synth.city import generate_city, load_profile, write_city
    from chanye.synth.history import generate_history, write_history

    folder = settings.data_dir / "demo"
    path = folder / f"demo-city-{settings.demo_enterprises}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    out.print(f"生成演示城市 / generating the demo city: {settings.demo_enterprises} 家企业 ...")
    # The sample stands for the whole city: its 15 clusters hold the city's 4万亿.
    whole_city = int(load_profile().raw["city"]["reference_enterprises"])
    city = generate_city(
        settings.demo_enterprises, DEMO_SEED, context.system, stands_for=whole_city
    )
    write_city(city, path)
    files = write_history(generate_history(city, DEMO_SEED, context.system), folder / "history")
    actor = Actor(name="demo", role="admin")
    for kind, file in [("list", path), *files.items()]:
        result = import_file(
            context.database_url, context.paths, context.system, file, actor, kind=kind
        )
        out.print(
            f"已载入{CONTENT_LABELS[kind]}：{file.name}（{result.seconds:.1f} s）/ loaded {kind}"
        )


def main() -> None:
    try:
        app()
    except OperationalError as exc:
        unreachable_database(exc)
