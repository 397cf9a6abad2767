"""Console tests: helpers in console_support.py (importable by its name)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # for `import console_support`
