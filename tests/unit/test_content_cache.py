"""The copy of the loaded content on disk (bot/content/cache.py): read back when nothing changed, made again when
anything did, never read when damaged or writable by others, never made of content that fails its checks, and
holding no message anyone sent."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from bot.content import cache
from bot.content.loader import ROOT, Content, ContentError, _load
from tests.clinical import load_yaml
from tests.conftest import copy_content

CASES = load_yaml(ROOT / "tests" / "data" / "phrases.yaml")["messages"][::25]


class Builds:
    """`_load`, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, root: Path) -> Content:
        self.calls += 1
        return _load(root)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "cache"
    monkeypatch.setenv(cache.ENV, str(where))
    return where


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return copy_content(tmp_path / "tree")


def copies(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"{cache.PREFIX}*{cache.SUFFIX}"))


def test_the_copy_is_read_back_and_screens_as_the_loaded_content(folder: Path, root: Path) -> None:
    build = Builds()
    loaded = cache.load(root, build)
    (copy,) = copies(folder)
    assert copy.stat().st_mode & 0o777 == 0o600 and folder.stat().st_mode & 0o777 == 0o700
    recalled = cache.load(root, build)
    assert build.calls == 1 and recalled is not loaded
    for case in CASES:
        assert recalled.language.screen(case["text"]) == loaded.language.screen(case["text"]), case["id"]
    assert recalled.catalog.raw("welcome", "es") == loaded.catalog.raw("welcome", "es")


def test_any_change_to_the_content_makes_a_new_copy_in_place_of_the_old(folder: Path, root: Path) -> None:
    build = Builds()
    cache.load(root, build)
    (first,) = copies(folder)
    vocabulary = root / "locales" / "es" / "vocabulary" / "redflags.yaml"
    vocabulary.write_text(vocabulary.read_text(encoding="utf-8") + "\n# reviewed\n", encoding="utf-8")
    cache.load(root, build)
    (second,) = copies(folder)
    assert build.calls == 2 and second != first


def test_a_damaged_copy_is_loaded_again_and_replaced(folder: Path, root: Path) -> None:
    build = Builds()
    cache.load(root, build)
    (copy,) = copies(folder)
    copy.write_bytes(copy.read_bytes()[:1000])
    content = cache.load(root, build)
    assert build.calls == 2 and content.language.screen("i cant breathe").interrupt == "emergency"
    assert cache.load(root, build) is not None and build.calls == 2


@pytest.mark.parametrize("writable", ["file", "folder"])
def test_a_copy_others_can_write_to_is_never_read(folder: Path, root: Path, writable: str) -> None:
    build = Builds()
    cache.load(root, build)
    (copy,) = copies(folder)
    (copy if writable == "file" else folder).chmod(0o666 if writable == "file" else 0o777)
    cache.load(root, build)
    assert build.calls == 2


def test_content_that_fails_its_checks_is_never_copied(folder: Path, root: Path) -> None:
    intake = root / "flows" / "intake.yaml"
    intake.write_text(intake.read_text(encoding="utf-8").replace("goto: clot_risk", "goto: clot_riks"))
    with pytest.raises(ContentError, match="clot_riks"):
        cache.load(root, Builds())
    assert not copies(folder)


def test_off_means_no_copy(tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.ENV, "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    build = Builds()
    cache.load(root, build)
    cache.load(root, build)
    assert build.calls == 2 and not (tmp_path / "xdg").exists()


def test_without_a_setting_copies_go_under_the_users_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cache.ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.folder() == tmp_path / "xdg" / "kneebot"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.folder() == Path.home() / ".cache" / "kneebot"


def test_the_copy_holds_no_message_anyone_sent(content: Content) -> None:
    secret = "my calf is swollen since the flight zq7x"
    assert content.language.screen(secret).interrupt == "urgent"
    assert b"zq7x" not in pickle.dumps(content, protocol=pickle.HIGHEST_PROTOCOL)
