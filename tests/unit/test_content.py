"""Content checks: every locale has every key with the same placeholders, and SMS messages fit 3 segments."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.channels.render import MAX_SMS_SEGMENTS, render_sms
from bot.channels.segments import segments, to_gsm
from bot.content.catalog import placeholders
from bot.content.loader import Content, ContentError, check, load_content
from bot.triage import safety
from bot.triage.effects import ChoiceOption, SendReply, Text
from bot.triage.emergency import UNKNOWN_NUMBER
from bot.triage.session import Position, SafetyCheck, SessionStatus
from tests.conftest import copy_content

# The longest value each placeholder takes in a real message.
LONGEST = {"number": "000", "line": "988 (call or text)", "min": "0", "max": "120"}


def test_content_loads_with_no_problems(content: Content) -> None:
    assert list(check(content)) == []
    assert set(content.catalog.locales) == {"en", "es"}


def test_every_locale_has_the_same_keys_and_placeholders(content: Content) -> None:
    en = content.catalog.keys("en")
    assert content.catalog.keys("es") == en
    for key in en:
        assert placeholders(content.catalog.raw(key, "es")) == placeholders(content.catalog.raw(key, "en")), key


def _longest_list(content: Content, locale: str, prefix: str) -> tuple[str, ...]:
    keys = sorted((k for k in content.catalog.keys(locale) if k.startswith(prefix)),
                  key=lambda k: -len(content.catalog.raw(k, locale)))  # fmt: skip
    return tuple(keys[:3])


@pytest.mark.parametrize("locale", ["en", "es"])
def test_every_message_fits_in_three_sms_segments(content: Content, locale: str) -> None:
    lists = {
        "reasons": _longest_list(content, locale, "why."),
        "causes": _longest_list(content, locale, "cause."),
        "signs": _longest_list(content, locale, "watch."),
        "tips": _longest_list(content, locale, "care."),
        "number": (UNKNOWN_NUMBER,),  # "112 (from a mobile) or your local emergency number"
    }
    too_long = []
    for key in content.catalog.keys(locale):
        params = tuple(
            (name, lists.get(name) or LONGEST.get(name, "x" * 10))
            for name in placeholders(content.catalog.raw(key, locale))
        )
        text = to_gsm(content.catalog.render(Text(key, params), locale))
        if segments(text) > MAX_SMS_SEGMENTS:
            too_long.append(f"{key}: {segments(text)} segments")
    assert too_long == []


@pytest.mark.parametrize("locale", ["en", "es"])
def test_every_question_is_one_sms_with_its_numbered_choices(content: Content, locale: str) -> None:
    flow = content.intake
    for node_id, node in flow.nodes.items():
        if node.kind == "assessment":
            continue
        reply = SendReply(
            parts=(Text(flow.prompt_key(node_id)),),
            choices=tuple(ChoiceOption(c.id, Text(flow.label_key(node_id, c))) for c in node.choices),
            node=node_id,
            kind="question",
        )
        messages = render_sms(reply, content.catalog, locale)
        assert len(messages) == 1, node_id
        assert segments(messages[0]) <= MAX_SMS_SEGMENTS, node_id


def test_spanish_sms_is_folded_to_gsm7() -> None:
    # í is not GSM-7 and folds to i; é, ñ and ¿ are GSM-7 and stay.
    assert to_gsm("¿Tiene dolor en la pantorrilla? Sí, también") == "¿Tiene dolor en la pantorrilla? Si, también"
    assert segments("a" * 160) == 1 and segments("a" * 161) == 2 and segments("ñ" * 70) == 1
    assert segments("á" * 71) == 2


def test_a_key_missing_from_one_locale_stops_start_up(tmp_path: Path) -> None:
    root = copy_content(tmp_path)
    path = root / "locales" / "es" / "core.yaml"
    path.write_text("\n".join(line for line in path.read_text().splitlines() if not line.startswith("welcome:")))
    with pytest.raises(ContentError, match="welcome"):
        load_content(root)


def test_a_placeholder_mismatch_stops_start_up(tmp_path: Path) -> None:
    root = copy_content(tmp_path)
    path = root / "locales" / "es" / "core.yaml"
    path.write_text(path.read_text().replace("{number}", "{numero}", 1))
    with pytest.raises(ContentError, match="placeholders"):
        load_content(root)


def test_a_broken_flow_stops_start_up(tmp_path: Path) -> None:
    root = copy_content(tmp_path)
    path = root / "flows" / "intake.yaml"
    path.write_text(path.read_text().replace("goto: clot_risk", "goto: clot_riks"))
    with pytest.raises(ContentError, match="clot_riks"):
        load_content(root)


def test_the_red_flag_table_is_data_not_a_flow(content: Content) -> None:
    assert "redflags" not in content.flows
    assert content.red_flags.flags[0].id == "short_of_breath"


def _edit(root: Path, relative: str, old: str, new: str) -> None:
    path = root / relative
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("relative", "old", "new", "problem"),
    [
        ("flows/redflags.yaml", "interrupt: urgent", "interrupt: soonish", "interrupt"),
        ("flows/redflags.yaml", "finding: obvious_deformity", "finding: bent_leg", "bent_leg"),
        ("flows/redflags.yaml", "  - id: assault\n", "  - id: assault_now\n", "assault"),
        ("locales/es/vocabulary/redflags.yaml", "\n  assault:\n", "\n  asalto:\n", "assault"),
        ("locales/es/vocabulary/redflags.yaml", "\n  cast:\n", "\n  yeso:\n", "cast"),
        ("locales/en/vocabulary/redflags.yaml", "        - seizure\n", "        - seizure (\n", "seizure"),
        ("locales/es/vocabulary/redflags.yaml", "\n  sweating:\n", "\n  sweating: 3\n  x:\n", "sweating"),
        ("locales/es/screen.yaml", "confirm.choking:", "confirm.choke:", "confirm.choking"),
        # A key given twice (YAML would keep the last silently): two edits each adding an `unless` to one trigger.
        (
            "locales/en/vocabulary/redflags.yaml",
            '      # recall5 probe: "my shin is bruised and it has gone purple"\n',
            "      unless:\n        - bruised\n",
            "'unless' is given twice",
        ),
    ],
)
def test_a_broken_red_flag_file_stops_start_up(tmp_path: Path, relative: str, old: str, new: str, problem: str) -> None:
    root = copy_content(tmp_path)
    _edit(root, relative, old, new)
    with pytest.raises(ContentError, match=problem):
        load_content(root)


@pytest.mark.parametrize("locale", ["en", "es"])
def test_every_safety_question_is_one_sms_with_its_choices(content: Content, locale: str) -> None:
    resume = Position(flow_id="intake", flow_version=1, node=None, status=SessionStatus.active)
    for flag in content.red_flags.flags:
        reply = safety.question(SafetyCheck(kind="confirm", flags=(flag.id,), resume=resume))
        assert len(render_sms(reply, content.catalog, locale)) == 1, flag.id
