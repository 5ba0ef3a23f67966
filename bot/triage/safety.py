"""The safety question: one yes/no question about a sign, asked when the screen is unsure ("could this be a clot?"),
when someone takes back a sign that interrupted ("I'm not short of breath, I was quoting the nurse"), at once after an
urgent clot message (the signs of a clot in the lung), and at the start of new questions about a sign of the last 24
hours; and the wording of the interrupt itself, emergency and crisis together. Pure."""

from __future__ import annotations

from bot.triage import advice, outcome
from bot.triage.effects import ChoiceOption, Param, SendReply, Text
from bot.triage.emergency import CrisisLine
from bot.triage.red_flags import Answer, RedFlagTable
from bot.triage.session import SafetyCheck

# The node id of a safety question's buttons: flow node ids are slugs ([a-z][a-z0-9_]*), so no flow can use it.
SAFETY_NODE = "_safety"
ANSWERS: tuple[Answer, ...] = ("yes", "no", "not_sure")
MAX_REASONS = 2
ASKED_AT_MOST = 2  # an answer not understood gets the question once more; then it counts as "not sure"

SOMEONE_ELSE = "someone_else"  # the wording of a crisis said of another person: a key's last part
CRISIS_MESSAGE = "crisis.message"

KEYS = (
    CRISIS_MESSAGE,
    f"{CRISIS_MESSAGE}.{SOMEONE_ELSE}",
    "confirm.any",
    "safety.again",
    "safety.thanks",
    "safety.thanks_done",
    "withdrawal.lead",
    "withdrawal.kept",
    "clot.question",
    "clot.emergency_reason",
    "clot.kept",
    "danger.lead",
    "danger.dropped",
    *(f"safety.{answer}" for answer in ANSWERS),
)


def message_keys(flag_id: str, crisis: bool = False) -> tuple[str, ...]:
    """Each flag's reason ("... because {reasons}") and its yes/no question; for a crisis flag, both again worded
    for someone worried about another person."""
    keys = (f"flag.{flag_id}", f"confirm.{flag_id}")
    return (*keys, *(f"{key}.{SOMEONE_ELSE}" for key in keys)) if crisis else keys


def worded(key: str, flag_id: str, someone_else: tuple[str, ...]) -> str:
    """`flag.<id>` or `confirm.<id>`, worded for another person where the sign was said of one."""
    return f"{key}.{flag_id}.{SOMEONE_ELSE}" if flag_id in someone_else else f"{key}.{flag_id}"


def question(check: SafetyCheck, lead: tuple[Text, ...] = (), kind: str = "confirm") -> SendReply:
    """The yes/no question about the check's signs, with yes / no / not sure as its choices. After a clot message,
    one question about the emergency signs "in the last 24 hours" (they may have come and gone this morning)."""
    if check.kind == "clot":
        asked = Text("clot.question")
    elif len(check.flags) == 1:
        asked = Text(worded("confirm", check.flags[0], check.someone_else))
    else:
        asked = Text("confirm.any", (("signs", tuple(worded("flag", f, check.someone_else) for f in check.flags)),))
    choices = tuple(ChoiceOption(answer, Text(f"safety.{answer}")) for answer in ANSWERS)
    return SendReply(parts=(*lead, asked), choices=choices, node=SAFETY_NODE, kind=kind)


def interrupt_parts(
    table: RedFlagTable,
    flags: tuple[str, ...],
    number: Param,
    line: Text | None,
    *,
    reason: Text | None = None,
    child: bool = False,
    someone_else: tuple[str, ...] = (),
) -> list[Text]:
    """What an interrupt says: the call-now line, its reason (`reason` in place of the flags' own) and "don't drive"
    for a physical emergency; then the crisis message (worded for someone worried about another person when every
    crisis sign was said of one: `someone_else`) and line; then, without an emergency, the same-day clot advice and
    its call-now line (worded for a child under 16 where `child`)."""

    def having(level: str) -> tuple[str, ...]:
        return tuple(f for f in flags if table.get(f).interrupt == level)

    emergency, crisis, urgent = having("emergency"), having("crisis"), having("urgent")
    num: tuple[tuple[str, Param], ...] = (("number", number),)
    parts: list[Text] = []
    if emergency:
        reasons = tuple(f"flag.{f}" for f in emergency[:MAX_REASONS])
        parts += [Text("emergency.action", num), reason or Text("interrupt.reason", (("reasons", reasons),))]
        parts.append(Text("emergency.dont_drive"))
    if crisis:
        about_another = set(crisis) <= set(someone_else)
        parts.append(Text(f"{CRISIS_MESSAGE}.{SOMEONE_ELSE}" if about_another else CRISIS_MESSAGE, num))
        if line is not None:
            parts.append(line)
    if urgent and not emergency:
        reasons = tuple(f"flag.{f}" for f in urgent[:MAX_REASONS])
        parts += [Text("urgent.action"), Text("interrupt.clot_reason", (("reasons", reasons),))]
        if not crisis:
            parts.append(outcome.call_if(advice.EMERGENCY_SIGNS, number, child))
    return parts


def crisis_line_text(line: CrisisLine | None) -> Text | None:
    """The crisis line, worded for how it is reached: "call" where it takes calls only, "call or text" where it
    takes texts too, with the menu option to choose where there is one (REFERENCE.md, crisis lines)."""
    if line is None:
        return None
    option = () if line.option is None else (("option", line.option),)
    return Text(line.message, (("line", line.number), *option))
