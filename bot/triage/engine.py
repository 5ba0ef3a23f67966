"""The engine: advance(flow, session, event, now) -> Turn. Red flags first, then commands, then the flow. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.triage import advice, rules
from bot.triage.assessment import Assessment
from bot.triage.effects import (
    AuditRecord,
    CancelCheckIns,
    ChoiceOption,
    DeleteData,
    Effect,
    Escalate,
    Param,
    ScheduleCheckIn,
    SendReply,
    Text,
)
from bot.triage.emergency import crisis_line, emergency_number
from bot.triage.events import ChoiceSelected, CommandReceived, Event, MessageReceived
from bot.triage.findings import Level
from bot.triage.flow import FlowDefinition
from bot.triage.matching import match_answer, parse_command
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


@dataclass(frozen=True)
class Policy:
    """Deployment choices the engine needs; passed in, never read from the environment."""

    default_country: str = "US"
    checkins: Mapping[Level, tuple[timedelta, ...]] = field(default_factory=lambda: dict(DEFAULT_CHECKINS))


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
) -> Turn:
    """One step. `labels` maps locale -> message key -> text, so typed answers can match choice labels."""
    step = _Step(flow, session, now, policy or Policy(), (labels or {}).get(session.locale, {}))
    if isinstance(event, MessageReceived):
        found = screen(event.text, session.locale)
        if found.interrupt is not None:
            return step.interrupt(found)
        command = parse_command(event.text)
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
    value = match_answer(flow, session.node, event.text, step.labels)
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
        self, flow: FlowDefinition, session: Session, now: datetime, policy: Policy, labels: Mapping[str, str]
    ) -> None:
        self.flow, self.session, self.now, self.policy, self.labels = flow, session, now, policy, labels
        self.effects: list[Effect] = []

    @property
    def number(self) -> str:
        return emergency_number(self.session.country, self.policy.default_country)

    def update(self, **changes: object) -> _Step:
        self.session = self.session.model_copy(update={**changes, "updated_at": self.now})
        return self

    def say(self, *parts: Text, kind: str = "info", call: str | None = None) -> _Step:
        self.effects.append(SendReply(parts=parts, kind=kind, call=call))
        return self

    def ask(self, node_id: str, lead: tuple[Text, ...] = ()) -> _Step:
        node = self.flow.nodes[node_id]
        choices = tuple(ChoiceOption(c.id, Text(self.flow.label_key(node_id, c))) for c in node.choices)
        prompt = Text(self.flow.prompt_key(node_id))
        self.effects.append(SendReply(parts=(*lead, prompt), choices=choices, node=node_id, kind="question"))
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
        number = self.number
        reasons: tuple[str, ...] = tuple(f"flag.{flag}" for flag in found.matched[:MAX_REASONS])
        flags = tuple(dict.fromkeys((*self.session.red_flags, *found.matched)))
        if found.interrupt == "crisis":
            parts = [Text("crisis.message", (("number", number),))]
            line = crisis_line(self.session.country, self.policy.default_country)
            if line:
                parts.append(Text("crisis.line", (("line", line),)))
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
        self.say(*parts, kind="interrupt", call=number if level is Level.emergency else None)
        self.effects.append(Escalate(level=level.value, reason=found.interrupt, red_flags=found.matched))
        self.audit("interrupt", interrupt=found.interrupt, flags=",".join(found.matched))
        if stopped:
            return self.update(red_flags=flags).done()
        self.update(status=SessionStatus.escalated, node=None, red_flags=flags, interrupt=found.interrupt)
        return self.schedule(level).done()

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
        if name == "back":
            if s.status is not SessionStatus.active or not s.answers or not self.resumable():
                self.say(Text("command.nothing_back"))
                return self.ask(s.node).done() if s.status is SessionStatus.active and s.node else self.done()
            last = s.answers[-1]
            self.update(answers=s.answers[:-1], node=last.node)
            return self.ask(last.node).done()
        raise ValueError(f"unknown command {name!r}")

    def restart(self, lead: Text | None) -> Turn:
        s = self.session
        self.effects.append(CancelCheckIns("restart"))
        fresh = new_session(self.flow, self.now, s.locale, s.country)
        self.session = fresh.model_copy(update={"disclaimer_shown": True})
        intro = lead or Text("welcome", (("number", self.number),))
        return self.ask(self.flow.start, lead=(intro,)).audit("started", flow=self.flow.id).done()

    # --- the flow --------------------------------------------------------------------------------------------------

    def answer(self, answer: Answer) -> Turn:
        assert self.session.node is not None
        answers = (*self.session.answers, answer)
        findings, unsure = self.flow.findings(answers)
        target = self.flow.next_node(self.session.node, answer, findings, unsure)
        self.update(answers=answers, node=target)
        if self.flow.nodes[target].kind != "assessment":
            return self.ask(target).done()
        assessment = rules.assess(findings, unsure)
        self.update(status=SessionStatus.completed, node=None, assessment=assessment)
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
        return self.schedule(assessment.level).done()

    def outcome(self, assessment: Assessment, certain: Assessment) -> None:
        """`certain` is the assessment without the "not sure" answers: its reasons are the ones the person gave."""
        level, number = assessment.level, self.number
        num: tuple[tuple[str, Param], ...] = (("number", number),)
        reasons = tuple(dict.fromkeys(c.why for c in certain.causes))[:MAX_REASONS]
        causes = tuple(f"cause.{c.code}" for c in assessment.causes[:MAX_CAUSES])
        parts = [Text(f"outcome.{level.value}.action", num)]
        if level > certain.level:
            parts.append(Text("outcome.unsure"))
        elif reasons:
            parts.append(Text("outcome.reason", (("reasons", reasons),)))
        parts.append(Text("outcome.causes", (("causes", causes),)) if causes else Text("outcome.causes_none"))
        parts.append(Text(f"outcome.{level.value}.detail", num))
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
        parts.append(Text(f"checkin.offer.{level.value}"))
        self.say(*parts, kind="outcome", call=number if level is Level.emergency else None)

    def schedule(self, level: Level) -> _Step:
        delays = self.policy.checkins.get(level, ())
        self.effects.append(CancelCheckIns("new_assessment"))
        seq = self.session.checkins_scheduled
        for i, delay in enumerate(delays, start=1):
            exempt = level >= Level.urgent
            self.effects.append(ScheduleCheckIn(seq + i, self.now + delay, level.value, exempt))
        return self.update(checkins_scheduled=seq + len(delays))
