"""``chanye account ...``: accounts on the command line, for administrators (see docs/cli.md)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from chanye.cli.startup import CLI_ACTOR, err, migrated_database_url, out
from chanye.portal.accounts import (
    AccountRefusedError,
    admin_reset_password,
    create_account,
    find_account,
)
from chanye.portal.binding import verify_by_administrator
from chanye.portal.roles import ROLE_LABELS, STAFF_ROLES, label
from chanye.store.database import session_scope
from chanye.store.models import Account

account_app = typer.Typer(help="Portal accounts (账号): create, list, reset.", no_args_is_help=True)
ASSIGNABLE = tuple(role for role in ROLE_LABELS if role != "public")


@account_app.command("create")
def account_create(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ASSIGNABLE)}.")],
    email: Annotated[str, typer.Option(help="E-mail address.")],
    name: Annotated[str | None, typer.Option(help="Display name (default: the username).")] = None,
    uscc: Annotated[
        str | None, typer.Option(help="The enterprise's USCC (enterprise and member roles).")
    ] = None,
    cluster: Annotated[
        list[str] | None,
        typer.Option(help="An industry id a chain leader is responsible for (repeatable)."),
    ] = None,
) -> None:
    """Create an account; prints a one-time password that must be changed at first login."""
    if role not in ASSIGNABLE:
        err.print(f"未知角色 / unknown role {role!r}（可用 / one of: {', '.join(ASSIGNABLE)}）")
        sys.exit(2)
    try:
        with session_scope(migrated_database_url()) as db:
            account, password = create_account(
                db,
                username=username,
                email=email,
                display_name=name or username,
                role=role,
                actor=CLI_ACTOR,
                enterprise_uscc=uscc,
                scope_clusters=cluster or None,
            )
            if uscc:  # the administrator opens it for the enterprise: the binding is verified
                verify_by_administrator(db, account, CLI_ACTOR)
    except AccountRefusedError as refused:
        err.print(f"无法创建账号 / refused: {refused}", markup=False)
        sys.exit(1)
    out.print(f"已创建 {label(role)} 账号 {account.username} / created")
    out.print(f"初始密码 / one-time password: {password}", markup=False)
    out.print("首次登录须修改密码" + ("，并绑定双因素认证。" if role in STAFF_ROLES else "。"))


@account_app.command("list")
def account_list() -> None:
    """List accounts with role, status and whether two-factor login is on."""
    with session_scope(migrated_database_url()) as db:
        accounts = db.scalars(select(Account).order_by(Account.id)).all()
        table = Table("用户名", "名称", "角色", "邮箱", "状态", "双因素", "须改密码")
        for a in accounts:
            table.add_row(
                a.username,
                a.display_name,
                label(a.role),
                a.email,
                "正常" if a.status == "active" else "停用",
                "是" if a.totp_secret else "否",
                "是" if a.must_change_password else "否",
            )
    out.print(table)


@account_app.command("reset-password")
def account_reset_password(
    account: Annotated[str, typer.Argument(help="Username, e-mail or mobile.")],
) -> None:
    """Set a one-time password; the holder must change it at next login."""
    with session_scope(migrated_database_url()) as db:
        found = find_account(db, account)
        if found is None:
            err.print(f"没有账号 / no account {account!r}", markup=False)
            sys.exit(1)
        password = admin_reset_password(db, found, CLI_ACTOR)
    out.print(f"{found.username} 的一次性密码 / one-time password: {password}", markup=False)
