"""Failure reports of the HA tests carry the tails of every process's log (nodes, Kamailio):
the run that fails is often one nobody can repeat at will. The hook keeps each phase's report
on the test item (``rep_call``, pytest's own recipe), so a fixture can tell at teardown whether
the test failed."""

from __future__ import annotations

from collections.abc import Generator

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
        item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport,
                                                                     pytest.TestReport]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
