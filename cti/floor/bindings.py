"""Which console user works as which operator, and what is wrong with it.

Checked at start-up (log warnings) and by ``cti config check`` (printed), against the operators
the service runs with (the merged operators table, ``cti.floor.roster``): a user with role
operator bound to nobody can never take a call; a binding to an operator that is not active is
stale; an active operator without a user can be offered calls by nobody's console.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cti.config import Settings
from cti.floor.roster import read_roster
from cti.storage.users import Sessions, UserView, list_users


@dataclass(frozen=True, slots=True)
class BindingProblem:
    kind: str  # unbound_operator_user, unknown_operator, operator_without_user, not_an_operator
    subject: str  # a user name or an operator id
    message: str


def binding_problems(users: Iterable[UserView], operator_ids: Iterable[str]) -> list[BindingProblem]:
    configured = list(operator_ids)
    bound: set[str] = set()
    problems: list[BindingProblem] = []
    for user in users:
        if user.disabled:
            continue
        if user.operator_id is not None:
            bound.add(user.operator_id)
        if user.role == "operator" and user.operator_id is None:
            problems.append(BindingProblem(
                "unbound_operator_user", user.username,
                f"user {user.username!r} has role operator but works as no operator and can never "
                f"take a call: cti user bind {user.username} --operator OPERATOR_ID"))
        elif user.operator_id is not None and user.operator_id not in configured:
            problems.append(BindingProblem(
                "unknown_operator", user.username,
                f"user {user.username!r} is bound to operator {user.operator_id!r}, which is not "
                f"an active operator (one of {', '.join(configured)})"))
        elif user.operator_id is not None and user.role != "operator":
            problems.append(BindingProblem(
                "not_an_operator", user.username,
                f"user {user.username!r} is bound to operator {user.operator_id!r} but has role "
                f"{user.role}, which takes no calls"))
    for operator_id in configured:
        if operator_id not in bound:
            problems.append(BindingProblem(
                "operator_without_user", operator_id,
                f"operator {operator_id!r} has no console user: "
                f"cti user add NAME --role operator --operator {operator_id}"))
    return problems


async def check_bindings(sessions: Sessions, settings: Settings) -> list[BindingProblem]:
    """The users against the operators the service would run with (``cti config check``)."""
    roster = await read_roster(sessions, settings)
    return binding_problems(await list_users(sessions), sorted(roster.active_ids()))
