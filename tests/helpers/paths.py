"""Where the tests find the checkout, the dev corpus beside it, and the sample calls."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEV_CORPUS = REPO.parent / "shared" / "corpus" / "dev"
DEV_LABELS = DEV_CORPUS / "labels"
SAMPLES = REPO / "samples"
SCORING_FIXTURES = REPO / "tests" / "scoring" / "fixtures"  # the rule kinds' cases and whole calls (YAML)
REAL_TEXT = REPO.parent / "shared" / "corpus" / "real-text" / "dialogue_lines.json"  # real agent lines (JDDC)
