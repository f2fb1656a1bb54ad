"""Who receives an enterprise's pushes: the ONE definition, used to mail the pushes, to show them
and to list those nobody receives (the policy office then tells the enterprise offline).

An account receives its enterprise's pushes when it is active and its binding to the enterprise
is verified (``chanye.portal.binding``): a USCC typed in at registration reaches nothing.
"""

from __future__ import annotations

from sqlalchemy import Select, select

from chanye.portal import binding
from chanye.store.models import Account


def receivers() -> Select[str, int]:
    """(uscc, account id) of every account that can receive its enterprise's pushes."""
    verified = binding.verified_pairs().subquery()
    return (
        select(verified.c.uscc.label("uscc"), verified.c.account_id.label("account_id"))
        .join(Account, Account.id == verified.c.account_id)
        .where(Account.status == "active")
    )
