"""Which enterprises a reader may see: the one place that decides row-level scope.

Roles say which pages a person may open (``chanye/web/access/policy.csv``); the scope says which
enterprises those pages may show. Every query that reads enterprises (registry search,
statistics, one enterprise's profile, the policy simulation, explanations and near misses) takes
a ``Scope`` and filters with it, so a figure can never be computed over rows its reader may not
see.

- staff other than chain leaders: every enterprise;
- a chain leader (链长): the enterprises in the industries assigned to them, and only those
  industries' figures; a chain leader with no industry assigned sees nothing;
- an enterprise account: its own record only, when it has one;
- everyone else: nothing.

Scope is decided on one field, ``industries`` (``FIELD``), and only here: callers pass whole
records (``admits_record``) or take the SQL condition (``where``), never pick a column.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from chanye.portal.roles import ENTERPRISE_ROLES, STAFF_ROLES

CHAIN_LEADER = "chain_leader"
# The one field scope is decided on: every industry an enterprise is placed in (clusters, future
# and service industries). Not ``clusters``: a chain leader of a future industry would see nothing.
FIELD = "industries"


@dataclass(frozen=True)
class Scope:
    """All enterprises, those of some industries, or one enterprise's own record (or nothing)."""

    everything: bool = False
    industries: tuple[str, ...] = ()  # industry ids (clusters, future and service industries)
    uscc: str | None = None  # an enterprise's own record

    @classmethod
    def all(cls) -> Scope:
        return cls(everything=True)

    @classmethod
    def of_industries(cls, industries: Iterable[str]) -> Scope:
        return cls(industries=tuple(dict.fromkeys(industries)))

    @classmethod
    def own_record(cls, uscc: str | None) -> Scope:
        return cls(uscc=uscc.strip().upper() if uscc else None)

    @property
    def by_industry(self) -> bool:
        """True for a chain leader's scope: figures speak of their industries only."""
        return not self.everything and self.uscc is None

    def admits(self, uscc: str, industries: Iterable[str] | None) -> bool:
        """May this reader see the enterprise ``uscc`` that belongs to ``industries``?"""
        if self.everything:
            return True
        if self.uscc is not None:
            return uscc.strip().upper() == self.uscc
        return bool(set(industries or ()) & set(self.industries))

    def admits_uscc(self, uscc: str) -> bool:
        """Could the enterprise ``uscc`` be visible at all (before reading its industries)?"""
        if self.uscc is not None:
            return uscc.strip().upper() == self.uscc
        return self.everything or bool(self.industries)

    def shows_industry(self, industry: str) -> bool:
        """May figures about this industry be shown (a chain leader: only their own)?"""
        return self.everything or (self.by_industry and industry in self.industries)

    def where(self) -> tuple[str, list[object]]:
        """A SQL condition (and its parameters) keeping only the rows in scope, over any table of
        enterprises with ``uscc`` and ``industries`` (the registry's, the policies' population)."""
        if self.everything:
            return "TRUE", []
        if self.uscc is not None:
            return "uscc = ?", [self.uscc]
        if not self.industries:
            return "FALSE", []
        return f"list_has_any({FIELD}, ?)", [list(self.industries)]

    def mask(
        self, usccs: pa.Array | pa.ChunkedArray, industries: pa.ChunkedArray
    ) -> np.ndarray | None:
        """Which rows of a columnar table of enterprises (its ``uscc`` and ``industries``
        columns) are in scope; None: every row (the policy engine's population)."""
        if self.everything:
            return None
        if self.uscc is not None:
            return np.asarray(pc.equal(usccs, self.uscc).to_numpy(zero_copy_only=False), dtype=bool)
        mask = np.zeros(len(usccs), dtype=bool)
        if not self.industries:
            return mask
        lists = (
            industries.combine_chunks() if isinstance(industries, pa.ChunkedArray) else industries
        )
        hit = pc.fill_null(
            pc.is_in(pc.list_flatten(lists), value_set=pa.array(list(self.industries))), False
        )
        parents = np.asarray(pc.list_parent_indices(lists).to_numpy(), dtype=np.int64)
        mask[parents[np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)]] = True
        return mask

    def admits_record(self, record: dict[str, object] | None) -> bool:
        """May this reader see the enterprise of ``record`` (a row with ``uscc`` and
        ``industries``: the registry's or the policies' population)? None: no such enterprise."""
        if record is None:
            return False
        industries = record.get(FIELD)
        return self.admits(str(record["uscc"]), industries if isinstance(industries, list) else ())


NOTHING = Scope()


def scope_for(role: str, assigned_industries: Iterable[str], own_uscc: str | None) -> Scope:
    """The scope of an account of ``role``. ``own_uscc`` is the enterprise the account may act
    for (None unless that link is proven); ``assigned_industries`` a chain leader's industries."""
    if role == CHAIN_LEADER:
        return Scope.of_industries(assigned_industries)
    if role in STAFF_ROLES:
        return Scope.all()
    if role in ENTERPRISE_ROLES and own_uscc:
        return Scope.own_record(own_uscc)
    return NOTHING
