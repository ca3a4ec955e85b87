"""Ray for the tests: imported with usage statistics off; optional except under CI=true."""

from __future__ import annotations

import os
from types import ModuleType

import pytest


def import_ray() -> ModuleType:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    if os.environ.get("CI", "").lower() == "true":
        import ray  # under CI a missing Ray is a failure, not a skip

        return ray
    return pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")
