"""Prometheus rules: the committed file is the generated one, and promtool's unit tests pass."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cti.metrics.rules import all_expressions, default_rules_path, render_rules_yaml, rule_groups

PROMETHEUS_DIR = default_rules_path().parent


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        message = "promtool not installed (Debian package `prometheus`)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_committed_rules_equal_freshly_generated() -> None:
    committed = default_rules_path().read_text(encoding="utf-8")
    assert committed == render_rules_yaml(rule_groups()), (
        "config/prometheus/rules.yml is stale: run `python -m cti.metrics.rules`"
    )


def test_every_alert_of_the_issue_exists() -> None:
    names = {name for name, _ in all_expressions(rule_groups())}
    assert {
        "CtiCallsWaitingHigh",
        "CtiLongestWaitOverTarget",
        "CtiServiceLevelLow",
        "CtiForecastAboveAprilPeak",
        "CtiSipUnregistered",
        "CtiTicketWriteErrors",
        "CtiCallersRefused",
    } <= names


def test_promtool_checks_the_rules_and_config() -> None:
    tool = promtool()
    rules = subprocess.run([tool, "check", "rules", str(default_rules_path())],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert f"SUCCESS: {len(all_expressions(rule_groups()))} rules found" in rules.stdout
    config = subprocess.run([tool, "check", "config", str(PROMETHEUS_DIR / "prometheus.yml")],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert config.returncode == 0, config.stdout + config.stderr


@pytest.mark.parametrize("test_file", sorted((PROMETHEUS_DIR / "tests").glob("*.yml")),
                         ids=lambda p: Path(p).name)  # fmt: skip
def test_promtool_rule_unit_tests(test_file: Path) -> None:
    result = subprocess.run([promtool(), "test", "rules", str(test_file)],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
