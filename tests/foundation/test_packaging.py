"""A real (non-editable) build ships every module and data file of our folders under ``cti``,
and says nothing a new user would read as a problem (an editable install hides both)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"cti": "cti", "cti/sip": "sip", "cti/routing": "routing", "cti/storage": "storage",
           "cti/metrics": "metrics", "cti/config": "config"}
SHIPPED = (".py", ".toml", ".wav", ".txt", ".json", ".yml", ".mako", ".html", ".js", ".css")


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, set[str]]:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--verbose", "-w", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = out.glob("cti-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return done.stdout + done.stderr, set(archive.namelist())


def _expected() -> set[str]:
    expected = set()
    for target, folder in FOLDERS.items():
        for path in (ROOT / folder).rglob("*"):
            relative = path.relative_to(ROOT / folder)
            if path.is_file() and path.suffix in SHIPPED and "__pycache__" not in relative.parts:
                expected.add(f"{target}/{relative.as_posix()}")
    return expected


def test_the_build_says_nothing_about_ignored_packages(build: tuple[str, set[str]]) -> None:
    output, _ = build
    assert "would be ignored" not in output
    assert "BuildBackendWarning" not in output


def test_every_module_and_data_file_is_shipped(build: tuple[str, set[str]]) -> None:
    _, names = build
    missing = _expected() - names
    assert not missing, f"not in the wheel: {sorted(missing)[:20]}"
    assert {"cti/config/helpdesk.toml", "cti/web/static/index.html",
            "cti/storage/migrations/script.py.mako"} <= names


def test_no_top_level_names_that_clash_with_pypi(build: tuple[str, set[str]]) -> None:
    _, names = build
    assert {name.split("/")[0] for name in names} == {"cti", "cti-0.1.0.dist-info"}
