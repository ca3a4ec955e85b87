"""Fixtures of the scoring tests: small rulebooks parsed from YAML (the default rulebook is in
tests/conftest.py; scripted calls come from `tests.helpers.calls`)."""

from __future__ import annotations

import pytest

from qcpipe.scoring import Rulebook, parse_rulebook


@pytest.fixture
def mini_rulebook():
    """Parse a small rulebook from the `checks:` YAML given (top-level fields filled in)."""

    def build(checks_yaml: str, matching: str = "") -> Rulebook:
        text = f"version: 1\nname: test\n{matching}checks:\n{checks_yaml}"
        return parse_rulebook(text, source="mini.yaml")

    return build
