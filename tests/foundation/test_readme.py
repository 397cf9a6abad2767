"""The README tells a new user the truth: its prerequisites are exactly what CI installs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _ci_packages() -> set[str]:
    script = (ROOT / ".ci" / "run").read_text()
    match = re.search(r"packages=\((.*?)\)", script, re.S)
    assert match, ".ci/run has no packages=(...) list"
    return set(match.group(1).split())


def _readme_packages() -> set[str]:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"apt-get install --no-install-recommends (.*?)\n(?!\s)", text, re.S)
    assert match, "the README has no apt-get install line"
    words = match.group(1).replace("\\\n", " ").split()
    return set(words)


def test_readme_prerequisites_are_what_ci_installs() -> None:
    # PostgreSQL is preinstalled on CI machines (.ci/run does not manage the server).
    assert _readme_packages() - {"postgresql"} == _ci_packages()
