"""The outcome message: the action first, the call-now line, the reason, when to be seen; the details (home-care tips,
the possible causes) offered rather than sent, so an outcome fits two SMS. Worded for "your child" under 16. Pure."""

from __future__ import annotations

from bot.triage import advice, rules
from bot.triage.assessment import Assessment
from bot.triage.effects import ChoiceOption, Param, SendReply, Text
from bot.triage.findings import Level

MAX_REASONS = 2
MAX_CAUSES = 3
TIPS, WHY = "tips", "why"  # the details an outcome offers: a button each on Telegram, both with TIPS on SMS
DETAILS = (TIPS, WHY)

# Messages with a wording for a child under 16 ("your child"), kept under the key with CHILD after it. The rules'
# reasons are worded for a child already (why.child_limp); these are the lines around them.
CHILD = ".child"
CHILD_WORDED: frozenset[str] = frozenset(
    {
        "outcome.urgent.action",
        "outcome.soon.action",
        "outcome.soon.within_48h",
        "outcome.self_care.action",
        "outcome.emergency.detail",
        "outcome.self_care.detail",
        "outcome.self_care.detail_nerve",
        "outcome.unsure",
        "watch.see_today_if",
        "watch.call_if",
        *(tip.key for tip in advice.WATCH),
    }
)
KEYS = (
    "outcome.reason",
    "outcome.earlier",
    "outcome.causes",
    "outcome.causes_none",
    "outcome.tips",
    "more.tips",
    "more.why",
    "more.tips.said",
    "more.why.said",
    "more.none",
    "sms.more",  # the SMS line that offers the details ("Reply TIPS for ..."), rendered by bot.channels.render
    *CHILD_WORDED,
    *(key + CHILD for key in CHILD_WORDED),
)


def worded(key: str, child: bool) -> str:
    return key + CHILD if child and key in CHILD_WORDED else key


def call_if(signs: tuple[str, ...], number: Param, child: bool) -> Text:
    """ "Call <number> at once if: ..." with these `watch.<sign>` keys ("... if your child: ..." for a child)."""
    return Text(worded("watch.call_if", child), (("number", number), ("signs", tuple(worded(s, child) for s in signs))))


def outcome_reply(
    assessment: Assessment,
    certain: Assessment,
    *,
    number: Param,
    dial: str,
    child: bool = False,
    earlier: bool = False,
    closing: tuple[Text, ...] = (),
) -> SendReply:
    """`certain`: the assessment without the "not sure" answers (its reasons are the ones the person gave). `earlier`:
    the level is that of an emergency or urgent message of the last 24 hours, not of these answers. `closing`: what
    the engine adds at the end (the clinic was told, the check-in offer). Below emergency, the reason is a detail
    ("Why?"), with the possible causes, unless the level is higher than the answers give (said at once); "call now"
    gives its reason at once, and offers nothing more. Any wording of the level's own (within 48 hours, 4 to 6 weeks)
    comes from the rules that set the level, never a rule below it."""
    level = assessment.level
    num: tuple[tuple[str, Param], ...] = (("number", number),)
    setting = rules.deciding_rules(assessment)
    action = next((r.action for r in setting if r.action), f"outcome.{level.value}.action")
    detail = next((r.detail for r in setting if r.detail), f"outcome.{level.value}.detail")
    parts = [Text(worded(action, child), num)]
    if level is Level.emergency:
        parts.extend(raised(assessment, certain, child, earlier) or reason(certain))
    else:
        # The call-now line right after the action: SMS can arrive out of order, and the first message carries it.
        watch = advice.watch_for(assessment)
        parts.append(call_if(tuple(k for k in watch if k not in advice.SAME_DAY_SIGNS), number, child))
        parts.extend(raised(assessment, certain, child, earlier))
        today = tuple(worded(k, child) for k in watch if k in advice.SAME_DAY_SIGNS)
        if today:
            parts.append(Text(worded("watch.see_today_if", child), (("signs", today),)))
    parts.append(Text(worded(detail, child), num))
    parts.extend(closing)
    return SendReply(
        parts=tuple(parts),
        kind="outcome",
        call=dial if level is Level.emergency else None,
        more=offered(assessment),
    )


def raised(assessment: Assessment, certain: Assessment, child: bool, earlier: bool) -> tuple[Text, ...]:
    """Why the level is higher than what the person said gives: a message of the last 24 hours, or a "not sure" to a
    warning sign. Said in the outcome itself, never left to "Why?": it would surprise them."""
    if earlier:
        return (Text("outcome.earlier"),)
    if assessment.level > certain.level:
        return (Text(worded("outcome.unsure", child)),)
    return ()


def reason(certain: Assessment) -> tuple[Text, ...]:
    """ "This is because ...": the reasons of the rules that set the level."""
    reasons = rules.reasons(certain)[:MAX_REASONS]
    return (Text("outcome.reason", (("reasons", reasons),)),) if reasons else ()


def offered(assessment: Assessment) -> tuple[ChoiceOption, ...]:
    """The details an outcome offers: none after "call now" (nothing should come before the call), the home-care tips
    where there are some, and why (the reason and the possible causes)."""
    if assessment.level is Level.emergency:
        return ()
    tips = (ChoiceOption(TIPS, Text("more.tips")),) if advice.care_tips(assessment) else ()
    return (*tips, ChoiceOption(WHY, Text("more.why")))


def details(
    assessment: Assessment, certain: Assessment, *, child: bool, earlier: bool, which: tuple[str, ...] = DETAILS
) -> tuple[Text, ...]:
    """The offered details named in `which`, as paragraphs of one reply (the arguments as for outcome_reply)."""
    parts: list[Text] = []
    for option in offered(assessment):
        if option.id not in which:
            continue
        if option.id == TIPS:
            parts.extend((Text("outcome.tips"), *(Text(tip) for tip in advice.care_tips(assessment))))
            continue
        if not raised(assessment, certain, child, earlier):  # else the reasons are of a level below this one
            parts.extend(reason(certain))
        causes = tuple(f"cause.{c.code}" for c in assessment.causes[:MAX_CAUSES])
        parts.append(Text("outcome.causes", (("causes", causes),)) if causes else Text("outcome.causes_none"))
    return tuple(parts)
