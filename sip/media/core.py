"""Which RTP core runs: the C one (``_core``, built with the package) or ``pycore``.

``_core`` is built by ``pip install`` when a C compiler and the Python headers are there
(``setup.py``: an optional extension, so an install without them still works, on the Python
core at about half the capacity: ``calls_on_time``). ``CTI_MEDIA_CORE=python`` runs the
Python core even where the C one is built: for comparing them (``bench/bench_media.py``) and
as a way out should the C core ever misbehave on a server.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Final

ENV: Final = "CTI_MEDIA_CORE"
C_CORE: Final = "cti.sip.media._core"
CHOICES: Final = ("auto", "c", "python")


def _env_choice() -> str:
    return os.environ.get(ENV, "auto").strip().lower()


def env_problem() -> str | None:
    """What is wrong with ``$CTI_MEDIA_CORE``, or None."""
    value = _env_choice()
    if value in CHOICES:
        return None
    return f"{ENV}={value[:20]!r} is not auto, c or python: the media core is chosen as for auto"


def load(choice: str | None = None) -> ModuleType:
    """The core module: ``choice`` (default: ``$CTI_MEDIA_CORE``) "c", "python" or "auto"
    (C when built). ValueError for another ``choice``, ImportError for "c" when it is not
    built; another value in the environment is "auto" (``cti config check`` names it)."""
    if choice is None:
        value = _env_choice()
        choice = value if value in CHOICES else "auto"
    choice = choice.strip().lower()
    if choice not in CHOICES:
        raise ValueError(f"{ENV} must be auto, c or python, not {choice[:20]!r}")
    if choice != "python":
        try:
            return importlib.import_module(C_CORE)
        except ImportError:
            if choice == "c":
                raise
    from cti.sip.media import pycore

    return pycore


def built() -> bool:
    """Whether the C core was built with this install."""
    try:
        importlib.import_module(C_CORE)
    except ImportError:
        return False
    return True
