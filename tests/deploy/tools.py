"""Where the deployment checks find their tools: built or installed by deploy/local/install.sh.

A missing tool fails the test (it never skips) and says how to get it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STACK_ARTIFACTS = Path(os.environ.get("SNAPFIX_STACK_DIR", ROOT / ".stack")) / "artifacts"
BIN = STACK_ARTIFACTS / "bin"


def tool(name: str) -> Path:
    """``kustomize`` from .stack/artifacts/bin (built from the Go module proxy), else PATH (``promtool``)."""
    local = BIN / name
    if local.exists():
        return local
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run deploy/local/install.sh (or `make install`)")
    return Path(found)
