"""Configuration errors name the offending key."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cti.routing import InvalidRoutingRules, OperatorProfile, RoutingRules, ServiceRules


def test_defaults_are_consistent() -> None:
    rules = RoutingRules((ServiceRules("portal"),), (OperatorProfile("op-a", {"portal": 4}),))
    assert rules.service("portal") is rules.services[0]
    assert rules.service("nope") is None
    assert rules.services[0].extension_s == rules.services[0].wrap_up_s


@pytest.mark.parametrize(
    ("build", "key"),
    [
        (lambda: ServiceRules("portal", strategy="fastest"), "services.portal.strategy"),
        (lambda: ServiceRules("portal", overflow_after_s=100, overflow_any_after_s=50),
         "services.portal.overflow_any_after_s"),
        (lambda: ServiceRules("portal", max_wait_s=10, overflow_after_s=20),
         "services.portal.max_wait_s"),
        (lambda: ServiceRules("portal", primary_min_proficiency=0),
         "services.portal.primary_min_proficiency"),
        (lambda: ServiceRules("portal", wrap_up_s=-1), "services.portal.wrap_up_s"),
        (lambda: OperatorProfile("op-a", {"portal": 6}), "operators.op-a.skills.portal"),
        (lambda: RoutingRules((ServiceRules("portal"),),
                              (OperatorProfile("op-a", {"skysea": 2}),)),
         "operators.op-a.skills.skysea"),
        (lambda: RoutingRules((ServiceRules("portal"), ServiceRules("portal")), ()), "services"),
        (lambda: RoutingRules((ServiceRules("portal"),),
                              (OperatorProfile("op-a"), OperatorProfile("op-a"))), "operators"),
        (lambda: RoutingRules((ServiceRules("portal"),), (), ring_timeout_s=0), "ring_timeout_s"),
        (lambda: RoutingRules((ServiceRules("portal"),), (), max_missed_offers=0),
         "max_missed_offers"),
    ],
)
def test_invalid_rules_name_their_key(build: Callable[[], object], key: str) -> None:
    with pytest.raises(InvalidRoutingRules) as info:
        build()
    assert info.value.key == key
    assert key in str(info.value)


def test_skills_are_read_only_copies() -> None:
    skills = {"portal": 4}
    profile = OperatorProfile("op-a", skills)
    skills["portal"] = 1
    assert profile.skills["portal"] == 4
    with pytest.raises(TypeError):
        profile.skills["portal"] = 2
