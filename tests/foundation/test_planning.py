"""Forecast and staffing over HTTP and on the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

Client = TestClient  # type: ignore[type-arg]


async def test_staffing_endpoint(client: Client, as_role: Callable[[str], Any]) -> None:
    headers = await as_role("operator")
    # Call Centre Helper's worked example: 200 calls/h, 180 s, 80% in 20 s -> 14 operators.
    response = await client.get("/api/staffing", headers=headers, params={
        "calls_per_hour": "200", "aht_seconds": "180", "target": "0.8", "within_seconds": "20"})
    assert response.status == 200
    body = await response.json()
    assert body["operators"] == 14
    assert 0.8 <= body["service_level"] < 0.9 and body["asa_seconds"] > 0
    for params in ({"calls_per_hour": "lots", "aht_seconds": "180"},
                   {"aht_seconds": "180"},
                   {"calls_per_hour": "10", "aht_seconds": "-5"}):
        bad = await client.get("/api/staffing", headers=headers, params=params)
        assert bad.status == 400, params
        assert (await bad.json())["error_id"] == "invalid_request"


async def test_forecast_endpoint(client: Client, as_role: Callable[[str], Any]) -> None:
    headers = await as_role("manager")
    april = await (await client.get("/api/forecast", headers=headers,
                                    params={"month": "2027-04"})).json()
    assert april["baseline_calls"] == 705
    assert len(april["days"]) == 21  # business days of April 2027
    bad = await client.get("/api/forecast", headers=headers, params={"month": "2027-13"})
    assert bad.status == 400 and (await bad.json())["details"]["field"] == "month"


def test_forecast_command(tmp_path: Path) -> None:
    env = {**os.environ, "CTI_SIP_MODE": "off"}
    def cti(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cti", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60, check=False)
    assert cti("db", "upgrade").returncode == 0
    text = cti("forecast", "--month", "2027-04")
    assert text.returncode == 0, text.stderr
    assert "2027年4月" in text.stdout and "705" in text.stdout and "█" in text.stdout
    as_json = cti("forecast", "--month", "2027-04", "--json")
    assert json.loads(as_json.stdout)["baseline_calls"] == 705
    wrong = cti("forecast", "--month", "April")
    assert wrong.returncode == 2 and "YYYY-MM" in wrong.stderr
