"""Settings: the shipped file, environment overrides, and a precise error for every bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.config import ConfigError, default_config_path, load_settings

BASE = default_config_path().read_text(encoding="utf-8")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "helpdesk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_file_describes_the_helpdesk() -> None:
    settings = load_settings(None, {})
    assert [(s.id, s.digit) for s in settings.services] == [
        ("isolation", "1"), ("skysea", "2"), ("portal", "3"),
        ("licenses", "4"), ("telework", "5"), ("other", "9"),
    ]
    assert settings.baseline == (181, 130, 433, 705, 229, 254, 136, 140, 124, 149, 136, 217)
    assert max(settings.baseline) == settings.baseline[3]  # April is the peak
    assert str(settings.hours.timezone) == "Asia/Tokyo"
    assert f"{settings.hours.open:%H:%M}-{settings.hours.close:%H:%M}" == "08:45-17:15"
    assert settings.database.url == "sqlite+aiosqlite:///var/cti.db"
    assert str(settings.http.listen) == "127.0.0.1:8080"
    assert str(settings.sip.listen) == "127.0.0.1:5060" and settings.sip.mode == "direct"
    for service in settings.services:
        assert service.name_ja and service.name_en
        assert all(c.email.endswith("@example.invalid") for c in service.contacts)
        assert {c.kind for c in service.contacts} >= {"city"}
    skills = {s for op in settings.operators for s in op.skills}
    assert skills == {s.id for s in settings.services}  # every service has someone


def test_environment_overrides_the_file() -> None:
    settings = load_settings(None, {
        "CTI_DATABASE_URL": "postgresql+asyncpg://cti@db.example.invalid/cti",
        "CTI_HTTP": "0.0.0.0:9090",
        "CTI_SIP_LISTEN": "127.0.0.2:5080",
        "CTI_SIP_PASSWORD": "s3cret",
        "CTI_HOURS_OVERRIDE": "closed",
        "CTI_ROUTING_RING_TIMEOUT_SECONDS": "30",
        "CTI_SIP_ALLOWED_PEERS": "127.0.0.1, 127.0.0.3",
        "CTI_PASSWORD": "not a config key",
    })
    assert settings.database.url.startswith("postgresql+asyncpg://")
    assert (settings.http.listen.host, settings.http.listen.port) == ("0.0.0.0", 9090)
    assert str(settings.sip.listen) == "127.0.0.2:5080"
    assert settings.sip.password == "s3cret"
    assert settings.hours.override == "closed"
    assert settings.routing.ring_timeout_seconds == 30
    assert settings.sip.allowed_peers == ("127.0.0.1", "127.0.0.3")
    assert settings.sip.also_listen is None
    dual = load_settings(None, {"CTI_SIP_ALSO_LISTEN": "[::1]:5061"}).sip.also_listen
    assert dual is not None and (dual.host, dual.port) == ("::1", 5061)


def test_cti_config_env_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace('name_en = "City IT Helpdesk"', 'name_en = "Test Desk"'))
    assert load_settings(None, {"CTI_CONFIG": str(path)}).helpdesk_name_en == "Test Desk"


@pytest.mark.parametrize(
    ("text", "env", "key", "expected"),
    [
        (BASE.replace('[http]\nlisten = "127.0.0.1:8080"', '[http]\nlisten = "localhost"'), {},
         "http.listen", "HOST:PORT"),
        (BASE.replace('session_hours = 10', 'session_hours = 10\nsesion_hours = 3'), {},
         "http.sesion_hours", "a known key"),
        (BASE.replace('id = "skysea"\ndigit = "2"', 'id = "skysea"\ndigit = "1"'), {},
         "services[1].digit", "not already used by services[0]"),
        (BASE.replace('skills = { isolation = 5, skysea = 3, other = 3 }',
                      'skills = { isolation = 5, sky_sea = 3 }'), {},
         "operators[0].skills.sky_sea", "a service id"),
        (BASE.replace('skills = { isolation = 5, skysea = 3, other = 3 }',
                      'skills = { isolation = 7 }'), {},
         "operators[0].skills.isolation", "between 1 and 5"),
        (BASE.replace('monthly_calls = [181, 130,', 'monthly_calls = [130,'), {},
         "baseline.monthly_calls", "12 non-negative monthly counts"),
        (BASE, {"CTI_HOURS_OVERRIDE": "maybe"}, "hours.override", "'auto', 'open', 'closed'"),
        (BASE, {"CTI_ROUTING_RING_TIMEOUT_SECONDS": "soon"}, "routing.ring_timeout_seconds",
         "an integer"),
        (BASE, {"CTI_DATABASE_URL": "mysql://x@y/z"}, "database.url", "sqlite+aiosqlite"),
        (BASE, {"CTI_SIP_MODE": "registered"}, "sip.registrar", "HOST:PORT"),
        (BASE, {"CTI_SIP_ALSO_LISTEN": "127.0.0.2:5060"}, "sip.also_listen", "other family"),
        (BASE.replace('close = "17:15"', 'close = "5pm"'), {}, "hours.close", '"HH:MM"'),
        (BASE.replace('timezone = "Asia/Tokyo"', 'timezone = "Japan/Osaka"'), {}, "hours.timezone",
         "IANA time zone"),
        (BASE.replace('digit = "9"', 'digit = "#"'), {}, "services[5].digit", "one DTMF digit"),
        (BASE.replace('uri = "sip:2201@127.0.0.1:5070"', 'uri = "2201"'), {}, "operators[0].uri",
         "SIP URI"),
    ],
)
def test_wrong_value_names_key_and_expectation(
    tmp_path: Path, text: str, env: dict[str, str], key: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), env)
    assert caught.value.key == key
    assert expected in str(caught.value)
    assert key in str(caught.value)


def test_malformed_toml_is_reported_with_its_position(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, BASE + "\n[http\nlisten = 1\n"), {})
    assert "valid TOML" in str(caught.value)
    assert "line" in str(caught.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "nope.toml", {})
    assert "nope.toml" in str(caught.value)


def test_settings_are_frozen() -> None:
    settings = load_settings(None, {})
    with pytest.raises(AttributeError):
        settings.http = None  # type: ignore[misc]
