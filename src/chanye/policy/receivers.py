"""Who receives an enterprise's pushes: the ONE definition, used to mail the pushes, to show them
and to list those nobody receives (the policy office then tells the enterprise offline).

Today an account receives its enterprise's pushes when it is active and its ``enterprise_uscc``
is the enterprise's. When bindings are verified (issue 9 part 1), this is the one place to
change: a verified binding instead of the typed-in USCC.
"""

from __future__ import annotations

from sqlalchemy import Select, select

from chanye.store.models import Account


def receivers() -> Select[str | None, int]:
    """(uscc, account id) of every account that can receive its enterprise's pushes."""
    return select(Account.enterprise_uscc.label("uscc"), Account.id.label("account_id")).where(
        Account.status == "active", Account.enterprise_uscc.is_not(None)
    )
