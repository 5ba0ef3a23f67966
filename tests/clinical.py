"""The clinical cases the tests share: kneebot's own vignettes and the shared public calibration set."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

DATA = Path(__file__).resolve().parent / "data"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "clinical"


# libyaml's safe loader where PyYAML was built with it, as bot.content.loader reads the content: the phrase suite
# (2.7 MB) takes 2 s to read with it and 11 s without, in every test process.
_SAFE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_SAFE)


VIGNETTES: list[dict[str, Any]] = load_yaml(DATA / "vignettes.yaml")["vignettes"]


def shared(name: str) -> dict[str, Any]:
    """A file of the shared calibration set; skipped when absent, except in CI where it must be present."""
    path = SHARED / name
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing")
        pytest.skip(f"{path} is not available")
    return load_yaml(path)


def shared_examples() -> list[dict[str, Any]]:
    data = shared("examples.yaml")
    defaults = dict.fromkeys(data["fact_keys"]["optional_default_false"], False)
    cases: list[dict[str, Any]] = data["vignettes"]
    return [{**case, "facts": {**defaults, **case["facts"]}} for case in cases]
