"""The policy engine over the registry in force: what the CLI and the web app call.

Every path runs the columnar engine over the process's registry view (``chanye.registry.view``);
a web page reads the process's one population of it (``population.population_of``), warm.
"""

from __future__ import annotations

import logging

from chanye.beijing import today_in_beijing
from chanye.policy import workflow
from chanye.policy.demo import demo_policies as demo_policies  # the CLI's and the tests' name
from chanye.policy.population import load_population
from chanye.registry.changes import RollbackPlan, plan_rollback
from chanye.registry.context import RegistryContext
from chanye.registry.events import RegistryChanged
from chanye.store.audit import Actor
from chanye.store.database import session_scope

log = logging.getLogger(__name__)


def rerun_after_registry_change(context: RegistryContext, actor: Actor) -> int:
    """After any change of the registry: re-run every published policy over the registry now in
    force (new pushes, withdrawn ones, gained and lost recorded). Returns how many policies ran."""
    with session_scope(context.database_url) as session:
        if not workflow.published_versions(session):
            return 0
        runs = workflow.rerun_published(
            session, load_population(context, today_in_beijing()), actor
        )
    return len(runs)


def rematch_on_registry_change(event: RegistryChanged) -> None:
    """The subscriber of ``RegistryChanged`` (made in ``chanye.root``): pushes follow the registry,
    whatever kind of change it was, by whoever made it."""
    context = RegistryContext.at(event.database_url, event.paths)
    count = rerun_after_registry_change(context, event.actor)
    log.info("%d published policies re-matched after %s %d", count, event.kind, event.change_id)


def rollback_consequence(context: RegistryContext, change_id: int) -> RollbackPlan:
    """What undoing a registry change would do, its undecided pushes counted (the confirmation
    states it before anything is done)."""
    with session_scope(context.database_url) as session:
        pending = workflow.pending_push_usccs(session)
    return plan_rollback(context.database_url, context.paths, change_id, pending)


def seed_demo_policies(context: RegistryContext) -> int:
    """The demo policies, published and matched, into an empty policy table (``chanye demo``)."""
    with session_scope(context.database_url) as session:
        population = load_population(context, today_in_beijing())
        return len(workflow.seed_demo(session, population, Actor(name="demo", role="admin")))
