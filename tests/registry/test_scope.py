"""The scope value: which enterprises each kind of account may see, and the SQL that keeps them."""

from __future__ import annotations

import duckdb

from chanye.registry.scope import NOTHING, Scope, scope_for

A, B = "91440106000000001X", "91440106000000002X"


def test_each_role_gets_its_scope() -> None:
    assert scope_for("analyst", ["icv-nev"], None) == Scope.all()
    assert scope_for("chain_leader", ["icv-nev", "icv-nev"], A) == Scope.of_industries(["icv-nev"])
    assert scope_for("chain_leader", [], None) == NOTHING  # no industry assigned: nothing
    assert scope_for("enterprise", [], A.lower()) == Scope.own_record(A)
    assert scope_for("member", [], None) == NOTHING  # no proven enterprise: nothing
    assert scope_for("individual", ["icv-nev"], A) == NOTHING


def test_what_a_scope_admits() -> None:
    leader = Scope.of_industries(["icv-nev"])
    assert leader.admits(A, ["icv-nev", "ic"]) and not leader.admits(A, ["ic"])
    assert leader.shows_industry("icv-nev") and not leader.shows_industry("ic")
    own = Scope.own_record(A)
    assert own.admits(A, []) and not own.admits(B, ["icv-nev"]) and not own.shows_industry("ic")
    assert own.admits_uscc(A.lower()) and not own.admits_uscc(B) and not NOTHING.admits_uscc(A)
    assert Scope.all().admits(B, None) and Scope.all().shows_industry("ic")


def test_the_sql_keeps_only_the_rows_in_scope() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (uscc VARCHAR, industries VARCHAR[])")
    con.execute("INSERT INTO t VALUES (?, ['icv-nev']), (?, ['ic'])", [A, B])

    def kept(scope: Scope) -> list[str]:
        condition, params = scope.where()
        return [
            r[0]
            for r in con.execute(
                f"SELECT uscc FROM t WHERE {condition} ORDER BY 1", params
            ).fetchall()
        ]

    assert kept(Scope.all()) == [A, B]
    assert kept(Scope.of_industries(["ic"])) == [B]
    assert kept(Scope.own_record(A)) == [A]
    assert kept(NOTHING) == []
