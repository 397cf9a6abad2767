"""Grafana dashboards: committed JSON is the generated JSON; panels are checkable PromQL."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.models import dashboard as dash_model

from cti.metrics.dashboards import (
    DATASOURCE_UID,
    dashboards,
    default_dashboards_dir,
    panel_queries,
    render,
)

GRAFANA_DIR = default_dashboards_dir().parent


def test_committed_dashboards_equal_freshly_generated() -> None:
    fresh = dashboards()
    committed = sorted(p.name for p in default_dashboards_dir().glob("*.json"))
    assert committed == sorted(fresh)
    for name, model in fresh.items():
        on_disk = (default_dashboards_dir() / name).read_text(encoding="utf-8")
        assert on_disk == render(model), f"{name} is stale: run `python -m cti.metrics.dashboards`"


def test_the_three_dashboards_of_the_issue() -> None:
    titles = {json.loads(render(m))["title"] for m in dashboards().values()}
    assert titles == {"待ち状況 / Queue now", "入電量と基準 / Volume vs baseline", "要員 / Staffing"}


def test_every_panel_uses_the_provisioned_datasource_and_plain_promql() -> None:
    datasource = (GRAFANA_DIR / "provisioning" / "datasources" / "cti.yml").read_text()
    assert f"uid: {DATASOURCE_UID}" in datasource
    for model in dashboards().values():
        document = json.loads(render(model))
        for panel in document["panels"]:
            assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}
            assert " / " in panel["title"], panel["title"]  # Japanese / English
        queries = list(panel_queries(document))
        assert queries
        for title, expr in queries:
            assert "$" not in expr, f"{title}: Grafana macro in {expr!r}"


def test_staffing_shows_recommended_vs_logged_in_by_hour() -> None:
    document = json.loads(render(dashboards()["staffing.json"]))
    hourly = document["panels"][0]
    assert hourly["interval"] == "1h"
    exprs = " ".join(t["expr"] for t in hourly["targets"])
    assert "staffing_recommended" in exprs and "operators_logged_in" in exprs


def test_volume_dashboard_draws_the_april_peak() -> None:
    document = json.loads(render(dashboards()["volume-vs-baseline.json"]))
    legends = [t["legendFormat"] for p in document["panels"] for t in p.get("targets", [])]
    assert any("April peak" in legend for legend in legends)


def test_provisioning_points_at_the_dashboards_folder() -> None:
    provider = (GRAFANA_DIR / "provisioning" / "dashboards" / "cti.yml").read_text()
    assert re.search(r"type: file", provider)
    assert "path: ${CTI_GRAFANA_DASHBOARDS}" in provider
    assert Path(default_dashboards_dir()).name == "dashboards"


def _without_empty_custom(node: Any) -> Any:
    """The typed decoder adds an empty ``fieldConfig.defaults.custom``; nothing else may differ."""
    if isinstance(node, dict):
        return {k: _without_empty_custom(v) for k, v in node.items() if not (k == "custom" and v == {})}
    if isinstance(node, list):
        return [_without_empty_custom(v) for v in node]
    return node


def test_committed_json_reads_back_through_the_sdk_model() -> None:
    # The SDK's typed decoder (panel plugins registered) accepts every committed file and
    # renders it back with the same content.
    plugins.register_default_plugins()
    for path in sorted(default_dashboards_dir().glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        again = json.loads(render(dash_model.Dashboard.from_json(document)))
        assert _without_empty_custom(again) == document, path.name
