"""A copy of the loaded content on disk, so that a `kneebot` command does not read and check every flow, catalog and
vocabulary file again: loading takes about 0.35 s, reading the copy about 0.05 s (bench/README.md, "Start-up").

The copy is named by a digest of everything the loaded content is made from: every content file (flows/, locales/),
the package's own source, and the Python and pydantic it was made with. Change any of them and the copy is not
found; the content is loaded and checked as always, and a new copy replaces the old one. Content that fails its
checks is never copied.

Where: $KNEEBOT_CONTENT_CACHE, else $XDG_CACHE_HOME/kneebot, else ~/.cache/kneebot; KNEEBOT_CONTENT_CACHE=off turns
it off. A pickle runs code as it is read, so a copy is read only from a folder and file of the user's own that
nobody else can write to. It holds no message anyone sent: it is written right after the load, and the screen's
memory of short messages is left out of it (red_flags.Screener.__getstate__).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import pydantic
import pydantic_core

ENV = "KNEEBOT_CONTENT_CACHE"
OFF = "off"
PACKAGE = Path(__file__).resolve().parent.parent
PREFIX = "content-"
SUFFIX = ".pickle"
# What a pickled copy depends on besides our own files: the interpreter, and pydantic, whose models it holds.
MADE_WITH = f"{sys.version}\0pydantic {pydantic.VERSION}\0pydantic-core {pydantic_core.__version__}"

T = TypeVar("T")


def folder() -> Path | None:
    """Where copies are kept, or None when caching is off."""
    configured = os.environ.get(ENV, "").strip()
    if configured.lower() == OFF:
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "kneebot"


def digest(root: Path) -> str:
    """Names everything the loaded content is made from (a few milliseconds: about two megabytes are read)."""
    h = hashlib.sha256(MADE_WITH.encode())
    sources = [(root, p) for pattern in ("flows/**/*.yaml", "locales/**/*.yaml") for p in root.glob(pattern)]
    sources += [(PACKAGE, p) for p in PACKAGE.rglob("*.py")]
    for base, path in sorted(sources):
        h.update(f"\0{base.name}/{path.relative_to(base).as_posix()}\0".encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:32]


def load(root: Path, build: Callable[[Path], T]) -> T:
    """The content from its copy when there is a good one; otherwise `build(root)`, copied for the next process."""
    where = folder()
    if where is None:
        return build(root)
    name = f"{PREFIX}{digest(root)}{SUFFIX}"
    copy = _read(where / name)
    if copy is not None:
        return cast(T, copy)
    content = build(root)
    _write(where, name, content)
    return content


def _private(path: Path) -> bool:
    """Ours, and nobody else can write to it."""
    info = path.stat()
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _read(path: Path) -> Any:
    try:
        if not (_private(path.parent) and _private(path)):
            return None
        with path.open("rb") as f:
            return pickle.load(f)
    except Exception:  # none yet, damaged or not ours: a miss, and the content is loaded as always
        return None


def _write(where: Path, name: str, content: object) -> None:
    """Written whole or not at all (a temporary file renamed), then older copies removed; a folder that cannot be
    written to (a read-only install) just means no copy."""
    try:
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(where):
            return
        fd, temporary = tempfile.mkstemp(dir=where, prefix=".", suffix=SUFFIX)
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(content, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, where / name)
        except BaseException:
            os.unlink(temporary)
            raise
        for old in where.glob(f"{PREFIX}*{SUFFIX}"):
            if old.name != name:
                old.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError):  # a copy only saves time (tests/unit/test_content_cache.py makes one)
        return
