"""The project's own pages say what the code does: every triage rule and red flag is described in docs/clinical.md,
and the README stands alone in a clone (it never sends readers outside the project)."""

from __future__ import annotations

from pathlib import Path

from bot.content.loader import Content
from bot.triage.findings import FINDING_NAMES
from bot.triage.rules import RULES

ROOT = Path(__file__).resolve().parents[2]
CLINICAL = (ROOT / "docs" / "clinical.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_rule_is_described() -> None:
    missing = [rule.id for rule in RULES if f"`{rule.id}`" not in CLINICAL]
    assert missing == []


def test_every_red_flag_is_described(content: Content) -> None:
    missing = [flag.id for flag in content.red_flags.flags if f"`{flag.id}`" not in CLINICAL]
    assert missing == []


def test_every_finding_is_listed_in_the_readme() -> None:
    missing = [name for name in FINDING_NAMES if f"`{name}`" not in README]
    assert missing == []


def test_the_readme_stands_alone() -> None:
    assert "../shared" not in README
    assert "docs/clinical.md" in README
