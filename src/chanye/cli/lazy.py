"""The command groups, each imported only when it is run (click's lazy-group pattern).

A command pays only for the modules it uses: ``chanye policy match`` does not import the
registry importer, the portal or the synthetic city. ``chanye --help`` lists every group, so it
imports them all, and the help is the same as if they had been added with ``add_typer``.
"""

from __future__ import annotations

import importlib

import typer
from typer._click import Command, Context  # the click that Typer bundles
from typer.core import TyperGroup

GROUPS = {
    "registry": "chanye.cli.registry:registry_app",
    "synth": "chanye.cli.synth:synth_app",
    "account": "chanye.cli.account:account_app",
    "policy": "chanye.cli.policy:policy_app",
    "audit": "chanye.cli.audit:audit_app",
}
"""Group name → the module and Typer app that hold its commands, in the order help lists them."""


class LazyGroups(TyperGroup):
    """The ``chanye`` group: its own commands, then the groups of ``GROUPS`` built on demand."""

    def list_commands(self, ctx: Context) -> list[str]:
        return [
            *super().list_commands(ctx),
            *(name for name in GROUPS if name not in self.commands),
        ]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name in GROUPS and cmd_name not in self.commands:
            self.add_command(_group(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        if args and args[0] not in self.commands and args[0] not in GROUPS:
            # A mistyped name: Typer suggests among the groups built, so build them all first.
            for name in GROUPS:
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)


def _group(name: str) -> Command:
    module, attribute = GROUPS[name].split(":")
    group = typer.main.get_group(getattr(importlib.import_module(module), attribute))
    group.name = name
    return group
