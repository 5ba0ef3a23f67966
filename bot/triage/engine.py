"""The engine: advance(flow, session, event, now) -> Turn. Red flags first, then commands, then the flow. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from bot.triage import advice, rules
from bot.triage.assessment import Assessment
from bot.triage.effects import (
    AuditRecord,
    CancelCheckIns,
    DeleteData,
    Effect,
    Escalate,
    Param,
    ScheduleCheckIn,
    SendReply,
    Text,
)
from bot.triage.emergency import CountryTable, CrisisLine, EmergencyNumber
from bot.triage.events import CheckInDue, ChoiceSelected, CommandReceived, Event, MessageReceived
from bot.triage.findings import Findings, Level
from bot.triage.flow import FlowDefinition
from bot.triage.language import Language
from bot.triage.matching import PLAIN, answer_in, command_in
from bot.triage.red_flags import Screen, screen
from bot.triage.session import Answer, Session, SessionStatus

LOCALES = ("en", "es")
MAX_REASONS = 2
MAX_CAUSES = 3
# Items of a check-in schedule: REFERENCE.md "Disposition scale", check-in column.
DEFAULT_CHECKINS: Mapping[Level, tuple[timedelta, ...]] = {
    Level.emergency: (timedelta(hours=1),),
    Level.urgent: (timedelta(hours=6),),
    Level.soon: (timedelta(hours=60),),
    Level.self_care: (timedelta(hours=48), timedelta(days=7)),
}


# What clinic staff see of a case: nothing (no staff escalation configured), the case without the person's name or
# number, or the case with the number so they can call back.
Escalation = Literal["off", "anonymous", "contact"]


@dataclass(frozen=True)
class Policy:
    """Deployment choices the engine needs; passed in, never read from the environment."""

    default_country: str = "US"
    checkins: Mapping[Level, tuple[timedelta, ...]] = field(default_factory=lambda: dict(DEFAULT_CHECKINS))
    escalation: Escalation = "off"
    # Emergency numbers and crisis lines (flows/countries.yaml, built by the shell from Content). Empty, every
    # country gets "112 (from a mobile) or your local emergency number".
    countries: CountryTable = field(default_factory=CountryTable)
    emergency_number: str | None = None  # a clinic's own number, given for every country (EMERGENCY_NUMBER)

    def emergency(self, country: str | None) -> EmergencyNumber:
        """The number for a person in `country` (None: the deployment's default country)."""
        return self.countries.emergency(country, self.default_country, self.emergency_number)

    def crisis(self, country: str | None) -> CrisisLine | None:
        return self.countries.crisis(country, self.default_country)


@dataclass(frozen=True)
class Turn:
    session: Session
    effects: tuple[Effect, ...]

    @property
    def replies(self) -> tuple[SendReply, ...]:
        return tuple(e for e in self.effects if isinstance(e, SendReply))


def new_session(flow: FlowDefinition, now: datetime, locale: str = "en", country: str | None = None) -> Session:
    return Session(
        flow_id=flow.id,
        flow_version=flow.version,
        node=flow.start,
        locale=locale if locale in LOCALES else "en",
        country=country,
        started_at=now,
        updated_at=now,
    )


def advance(
    flow: FlowDefinition,
    session: Session,
    event: Event,
    now: datetime,
    *,
    policy: Policy | None = None,
    labels: Mapping[str, Mapping[str, str]] | None = None,
    checkin: FlowDefinition | None = None,
    language: Language | None = None,
) -> Turn:
    """One step. `flow` is the intake flow and `checkin` the check-in flow (needed once check-ins are scheduled);
    `labels` maps locale -> message key -> text; `language` (Content.language) reads typed answers and commands in
    every locale's words and labels (without it, only numbers are understood)."""
    step = _Step(flow, checkin, session, now, policy or Policy(), (labels or {}).get(session.locale, {}))
    flow = step.flow
    if isinstance(event, CheckInDue):
        return step.checkin_due(event)
    if isinstance(event, MessageReceived):
        found = screen(event.text, session.locale)
        if found.interrupt is not None:
            return step.interrupt(found)
        text = event.text
        command = command_in(text, language or PLAIN)
        if command is not None:
            return step.command(*command)
    if isinstance(event, CommandReceived):
        return step.command(event.command, event.argument)
    if session.status is SessionStatus.stopped:
        return step.done()
    if session.status is SessionStatus.active and not session.disclaimer_shown:
        return step.restart(None)
    if session.status is SessionStatus.active and not step.resumable():
        return step.restart(Text("flow.updated"))
    if session.status is not SessionStatus.active:
        key = "after.interrupt" if session.status is SessionStatus.escalated else "after.outcome"
        return step.say(Text(key, (("number", step.number),))).done()
    assert session.node is not None
    if isinstance(event, ChoiceSelected):
        if event.node != session.node or flow.choice(event.node, event.choice) is None:
            return step.say(Text("answer.stale")).ask(session.node).done()
        return step.answer(Answer(node=session.node, value=event.choice))
    value = answer_in(flow, session.node, text, language or PLAIN, now)
    if value is None:
        return step.say(Text(_not_understood_key(flow, session.node))).ask(session.node).done()
    return step.answer(Answer(node=session.node, value=value))


def _not_understood_key(flow: FlowDefinition, node_id: str) -> str:
    node = flow.nodes[node_id]
    if node.kind == "number":
        return "answer.days_invalid" if node.parse == "days" else "answer.number_invalid"
    return "answer.not_understood"


class _Step:
    """Accumulates the effects of one turn."""

    def __init__(
        self,
        intake: FlowDefinition,
        checkin: FlowDefinition | None,
        session: Session,
        now: datetime,
        policy: Policy,
        labels: Mapping[str, str],
    ) -> None:
        self.intake, self.checkin = intake, checkin
        self.session, self.now, self.policy, self.labels = session, now, policy, labels
        self.effects: list[Effect] = []

    @property
    def flow(self) -> FlowDefinition:
        """The flow the session is in: the check-in flow while a check-in is being answered, else the intake."""
        if self.checkin is not None and self.session.flow_id == self.checkin.id:
            return self.checkin
        return self.intake

    @property
    def number(self) -> Param:
        """What a message's {number} says (a message key where the country has no row)."""
        return self.emergency.param

    @property
    def emergency(self) -> EmergencyNumber:
        return self.policy.emergency(self.session.country)

    def update(self, **changes: object) -> _Step:
        self.session = self.session.model_copy(update={**changes, "updated_at": self.now})
        return self

    def say(self, *parts: Text, kind: str = "info", call: str | None = None) -> _Step:
        self.effects.append(SendReply(parts=parts, kind=kind, call=call))
        return self

    def ask(self, node_id: str, lead: tuple[Text, ...] = (), kind: str = "question") -> _Step:
        flow = self.flow
        prompt = Text(flow.prompt_key(node_id))
        self.effects.append(SendReply(parts=(*lead, prompt), choices=flow.options(node_id), node=node_id, kind=kind))
        return self

    def done(self) -> Turn:
        return Turn(self.session, tuple(self.effects))

    def audit(self, kind: str, **fields: str) -> _Step:
        self.effects.append(AuditRecord(kind, tuple(sorted(fields.items()))))
        return self

    def resumable(self) -> bool:
        s = self.session
        if s.flow_id != self.flow.id or s.node not in self.flow.nodes:
            return False
        return s.flow_version == self.flow.version or all(
            a.node in self.flow.nodes and self.flow.nodes[a.node].kind != "assessment" for a in s.answers
        )

    # --- red flags -----------------------------------------------------------------------------------------------

    def interrupt(self, found: Screen) -> Turn:
        assert found.interrupt is not None
        number, dial = self.number, self.emergency.dial
        reasons: tuple[str, ...] = tuple(f"flag.{flag}" for flag in found.matched[:MAX_REASONS])
        flags = tuple(dict.fromkeys((*self.session.red_flags, *found.matched)))
        if found.interrupt == "crisis":
            parts = [Text("crisis.message", (("number", number),))]
            line = self.policy.crisis(self.session.country)
            if line:
                option = () if line.option is None else (("option", line.option),)
                parts.append(Text(line.message, (("line", line.number), *option)))
            level = Level.emergency
        elif found.interrupt == "emergency":
            parts = [
                Text("emergency.action", (("number", number),)),
                Text("interrupt.reason", (("reasons", reasons),)),
                Text("emergency.dont_drive"),
            ]
            level = Level.emergency
        else:
            parts = [
                Text("urgent.action"),
                Text("interrupt.clot_reason", (("reasons", reasons),)),
                Text("watch.call_if", (("number", number), ("signs", advice.EMERGENCY_SIGNS))),
            ]
            level = Level.urgent
        stopped = self.session.status is SessionStatus.stopped
        if not stopped:
            parts.append(Text("interrupt.paused"))
        if self.policy.escalation != "off":
            parts.append(Text("escalation.told"))
        self.say(*parts, kind="interrupt", call=dial if level is Level.emergency else None)
        self.effects.append(Escalate(level=level.value, reason=found.interrupt, red_flags=found.matched))
        self.audit("interrupt", interrupt=found.interrupt, flags=",".join(found.matched), level=level.value)
        if stopped:
            return self.update(red_flags=flags).done()
        scheduled = self.schedule(level)
        self.update(
            flow_id=self.intake.id,
            flow_version=self.intake.version,
            status=SessionStatus.escalated,
            node=None,
            red_flags=flags,
            interrupt=found.interrupt,
            level=level,
            assessed_at=self.now,
            checkins_scheduled=scheduled,
        )
        return self.done()

    # --- commands --------------------------------------------------------------------------------------------------

    def command(self, name: str, argument: str) -> Turn:
        s = self.session
        if name == "stop":
            self.effects.append(CancelCheckIns("stop"))
            self.update(status=SessionStatus.stopped, node=None)
            return self.say(Text("command.stopped", (("number", self.number),))).audit("stopped").done()
        if name == "delete":
            self.effects.extend([CancelCheckIns("delete"), DeleteData()])
            return self.say(Text("command.deleted", (("number", self.number),))).audit("deleted").done()
        if name == "start" and s.status is SessionStatus.active and s.answers and self.resumable():
            assert s.node is not None
            return self.ask(s.node, lead=(Text("command.continue"),)).done()
        if name in {"start", "restart"}:
            return self.restart(None)
        if name == "help":
            self.say(Text("command.help", (("number", self.number),)))
            return self.ask(s.node).done() if s.status is SessionStatus.active and s.node else self.done()
        if name == "language":
            locale = argument if argument in LOCALES else ("es" if s.locale == "en" else "en")
            self.update(locale=locale)
            self.say(Text("command.language"))
            return self.ask(s.node).done() if s.status is SessionStatus.active and s.node else self.done()
        if name == "human":
            return self.human()
        if name == "back":
            if s.status is not SessionStatus.active or not s.answers or not self.resumable():
                self.say(Text("command.nothing_back"))
                return self.ask(s.node).done() if s.status is SessionStatus.active and s.node else self.done()
            last = s.answers[-1]
            self.update(answers=s.answers[:-1], node=last.node)
            return self.ask(last.node).done()
        raise ValueError(f"unknown command {name!r}")

    def human(self) -> Turn:
        """The person asked for a person: a case for the clinic's staff when the deployment has them."""
        s, num = self.session, (("number", self.number),)
        if self.policy.escalation == "off":
            self.say(Text("command.human_unavailable", num))
        else:
            level = s.level.value if s.level else "unassessed"
            self.effects.append(Escalate(level=level, reason="human", red_flags=s.red_flags))
            self.say(Text(f"command.human.{self.policy.escalation}", num))
            self.audit("human_requested", level=level)
        return self.ask(s.node).done() if s.status is SessionStatus.active and s.node else self.done()

    def restart(self, lead: Text | None) -> Turn:
        s = self.session
        self.effects.append(CancelCheckIns("restart"))
        fresh = new_session(self.intake, self.now, s.locale, s.country)
        # A restart keeps the count of check-ins ever scheduled, so the ids of new ones never repeat old ones.
        self.session = fresh.model_copy(update={"disclaimer_shown": True, "checkins_scheduled": s.checkins_scheduled})
        intro = lead or Text("welcome", (("number", self.number),))
        return self.ask(self.intake.start, lead=(intro,)).audit("started", flow=self.intake.id).done()

    # --- the flow --------------------------------------------------------------------------------------------------

    def answer(self, answer: Answer) -> Turn:
        assert self.session.node is not None
        answers = (*self.session.answers, answer)
        folded: tuple[Findings, frozenset[str]] | None = None

        def facts() -> tuple[Findings, frozenset[str]]:  # the answers folded into findings once, and only if needed
            nonlocal folded
            if folded is None:
                folded = self.flow.findings(answers)
            return folded

        target = self.flow.next_node(self.session.node, answer, facts)
        if self.flow.nodes[target].kind != "assessment":
            return self.update(answers=answers, node=target).ask(target).done()
        if self.flow is self.checkin:
            return self.update(answers=answers, node=target).checkin_outcome(target)
        findings, unsure = facts()
        assessment = rules.assess(findings, unsure)
        self.outcome(assessment, rules.assess(findings) if unsure else assessment)
        self.audit(
            "assessment",
            level=assessment.level.value,
            rules=",".join(assessment.rules),
            flow=f"{self.flow.id}@{self.flow.version}",
        )
        if assessment.level >= Level.urgent:
            summary = tuple((k, str(v)) for k, v in findings.model_dump(exclude_none=True).items())
            self.effects.append(
                Escalate(assessment.level.value, "assessment", red_flags=assessment.red_flags, findings=summary)
            )
        scheduled = self.schedule(assessment.level)
        self.update(
            answers=answers,
            status=SessionStatus.completed,
            node=None,
            assessment=assessment,
            level=assessment.level,
            assessed_at=self.now,
            checkins_scheduled=scheduled,
        )
        return self.done()

    # --- check-ins ---------------------------------------------------------------------------------------------------

    def checkin_due(self, event: CheckInDue) -> Turn:
        """Ask "how is your knee?", unless the person opted out or is in the middle of a new set of questions."""
        s = self.session
        busy = s.status is SessionStatus.active and s.flow_id == self.intake.id
        if self.checkin is None or s.status is SessionStatus.stopped or busy or s.level is None:
            reason = "stopped" if s.status is SessionStatus.stopped else "busy" if busy else "nothing_to_follow"
            return self.audit("checkin_skipped", seq=str(event.seq), reason=reason).done()
        self.update(
            flow_id=self.checkin.id,
            flow_version=self.checkin.version,
            node=self.checkin.start,
            status=SessionStatus.active,
            answers=(),
            checkin_seq=event.seq,
        )
        lead = Text(f"checkin.lead.{s.level.value}", (("number", self.number),))
        self.ask(self.checkin.start, lead=(lead,), kind="checkin")
        return self.audit("checkin_sent", seq=str(event.seq), level=s.level.value).done()

    def checkin_outcome(self, answer: str) -> Turn:
        s, num = self.session, (("number", self.number),)
        level = s.level or Level.self_care
        self.audit("checkin_answered", seq=str(s.checkin_seq), answer=answer, level=level.value)
        if answer == "worse":
            return self.restart(Text("checkin.worse"))
        parts = [Text(f"checkin.{answer}")]
        if answer == "same":
            elapsed = self.now - (s.assessed_at or s.started_at)
            if elapsed >= advice.NUDGE_AFTER[level]:
                parts.append(Text(f"checkin.nudge.{level.value}", num))
            tips = advice.care_tips(s.assessment) if s.assessment else ()
            if tips:
                parts.extend((Text("checkin.tips"), *(Text(tip) for tip in tips)))
        if level is not Level.emergency:
            parts.append(Text("watch.call_if", (*num, ("signs", advice.EMERGENCY_SIGNS))))
        more = s.checkin_seq < s.checkins_scheduled
        parts.append(Text("checkin.next" if more else "checkin.last"))
        self.update(
            flow_id=self.intake.id,
            flow_version=self.intake.version,
            status=SessionStatus.completed,
            node=None,
            answers=(),
        )
        return self.say(*parts, kind="outcome").done()

    def outcome(self, assessment: Assessment, certain: Assessment) -> None:
        """`certain` is the assessment without the "not sure" answers: its reasons are the ones the person gave.
        The reasons, and any wording of the level's own (within 48 hours, 4 to 6 weeks), come from the rules that set
        the level, never from a rule below it."""
        level, number = assessment.level, self.number
        num: tuple[tuple[str, Param], ...] = (("number", number),)
        dial = self.emergency.dial
        setting = rules.deciding_rules(assessment)
        reasons = rules.reasons(certain)[:MAX_REASONS]
        causes = tuple(f"cause.{c.code}" for c in assessment.causes[:MAX_CAUSES])
        action = next((r.action for r in setting if r.action), f"outcome.{level.value}.action")
        detail = next((r.detail for r in setting if r.detail), f"outcome.{level.value}.detail")
        parts = [Text(action, num)]
        if level > certain.level:
            parts.append(Text("outcome.unsure"))
        elif reasons:
            parts.append(Text("outcome.reason", (("reasons", reasons),)))
        parts.append(Text("outcome.causes", (("causes", causes),)) if causes else Text("outcome.causes_none"))
        parts.append(Text(detail, num))
        tips = advice.care_tips(assessment)
        if tips:
            parts.extend((Text("outcome.tips"), *(Text(tip) for tip in tips)))
        if level is not Level.emergency:
            watch = advice.watch_for(assessment)
            now_signs = tuple(k for k in watch if k not in advice.SAME_DAY_SIGNS)
            today_signs = tuple(k for k in watch if k in advice.SAME_DAY_SIGNS)
            parts.append(Text("watch.call_if", (*num, ("signs", now_signs))))
            if today_signs:
                parts.append(Text("watch.see_today_if", (("signs", today_signs),)))
        if level >= Level.urgent and self.policy.escalation != "off":
            parts.append(Text("escalation.told"))
        delays = self.policy.checkins.get(level, ())
        if delays:
            # The wording names the default schedule's times; a deployment with another schedule gets a vaguer line.
            same = tuple(delays) == DEFAULT_CHECKINS.get(level)
            parts.append(Text(f"checkin.offer.{level.value}" if same else "checkin.offer.later"))
        self.say(*parts, kind="outcome", call=dial if level is Level.emergency else None)

    def schedule(self, level: Level) -> int:
        """Replaces pending check-ins with those for `level` (as effects); returns the new count ever scheduled."""
        delays = self.policy.checkins.get(level, ())
        self.effects.append(CancelCheckIns("new_assessment"))
        seq = self.session.checkins_scheduled
        for i, delay in enumerate(delays, start=1):
            exempt = level >= Level.urgent
            self.effects.append(ScheduleCheckIn(seq + i, self.now + delay, level.value, exempt))
        return seq + len(delays)
