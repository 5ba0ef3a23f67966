"""The engine: advance(flow, session, event, now) -> Turn. Red flags first, then commands, then the flow. Pure."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from bot.triage import advice, asking, rules, safety
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
from bot.triage.matching import read_answer, read_command
from bot.triage.reading import Answered, CommandWord, Reading, Unclear, WhichOne
from bot.triage.red_flags import PRIORITY, Screen, Screener
from bot.triage.session import Answer, Position, SafetyCheck, Session, SessionStatus
from bot.triage.volunteered import NOTHING, Said, said_in

LOCALES = ("en", "es")
DETECTED = "language.detected"  # read from the first message, before the welcome (which says how to change it)
SWITCHED = "language.switched"  # read later, before any answer: with how to change it back
MESSAGE_KEYS = (*asking.MESSAGE_KEYS, DETECTED, SWITCHED)
MAX_REASONS = 2
MAX_CAUSES = 3
_LEVEL_OF = {"crisis": Level.emergency, "emergency": Level.emergency, "urgent": Level.urgent}
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
    language: Language,
    policy: Policy | None = None,
    checkin: FlowDefinition | None = None,
) -> Turn:
    """One step. `flow` is the intake flow and `checkin` the check-in flow (needed once check-ins are scheduled);
    `language` (Content.language) reads every message: the red-flag screen first, then the answer to the pending
    question (or, with none pending, a command), in every locale's words and labels."""
    if language.red_flags is None:
        raise ValueError("advance needs a Language built with the red-flag table")
    screener = language.red_flags
    step = _Step(flow, checkin, session, now, policy or Policy(), language)
    flow = step.flow
    if isinstance(event, CheckInDue):
        return step.checkin_due(event)
    if isinstance(event, MessageReceived):
        step.heard(event.text)
        found = screener.screen(event.text)
        if found.interrupt in PRIORITY:
            return step.interrupt(found.matched, also_ask=found.mentioned)
        if not step.asking():  # a question pending reads its own answer first: "alto" is a pain score there
            command = read_command(language, event.text)
            if command is not None:
                return step.command(command.name, command.argument)
        if session.safety_check is not None:
            return step.safety_answer(screener.answer(event.text), found)
        if found.interrupt == "confirm":
            return step.confirm(found.matched)
        if step.withdrawing(found):
            return step.ask_withdrawal()
    if isinstance(event, CommandReceived):
        return step.command(event.command, event.argument)
    if isinstance(event, ChoiceSelected) and (event.node == safety.SAFETY_NODE or session.safety_check is not None):
        if session.safety_check is None or event.node != safety.SAFETY_NODE or event.choice not in safety.ANSWERS:
            return step.say(Text("answer.stale")).next_question()
        return step.safety_answer(event.choice, None)
    if session.status is SessionStatus.stopped:
        return step.done()
    if session.status is SessionStatus.active and not session.disclaimer_shown:
        return step.begin()
    if session.status is SessionStatus.active and not step.resumable():
        return step.restart(Text("flow.updated"))
    if session.status is not SessionStatus.active:
        key = "after.interrupt" if session.status is SessionStatus.escalated else "after.outcome"
        return step.say(Text(key, (("number", step.number),))).done()
    assert session.node is not None
    if isinstance(event, ChoiceSelected):
        if event.node != session.node or flow.choice(event.node, event.choice) is None:
            return step.say(Text("answer.stale")).ask(session.node).done()
        return step.answered((event.choice,))
    return step.reply(read_answer(language, flow, session.node, event.text, now))


class _Step:
    """Accumulates the effects of one turn."""

    def __init__(
        self,
        intake: FlowDefinition,
        checkin: FlowDefinition | None,
        session: Session,
        now: datetime,
        policy: Policy,
        language: Language,
    ) -> None:
        self.intake, self.checkin = intake, checkin
        self.session, self.now, self.policy = session, now, policy
        self.language = language
        assert language.red_flags is not None
        self.screener: Screener = language.red_flags
        self.effects: list[Effect] = []
        self.said: Said = NOTHING  # what this message volunteered
        self.new_findings = False  # and whether any of it was not known before
        self.leads: list[Text] = []  # said before the next question (the language the replies are now in)

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

    def ask(self, node_id: str, lead: tuple[Text, ...] = (), kind: str = "question", *, again: bool = False) -> _Step:
        """Ask `node_id`; `again`: the same question once more, after a reply that was no answer (counted: never more
        than three times in a row). A question what the person volunteered bears on says so first."""
        flow, s = self.flow, self.session
        lead = (*self.leads, *lead)
        self.leads.clear()
        if not again and flow is self.intake:
            said = asking.offered(flow, node_id, s.volunteered)
            if said:
                lead = (*lead, asking.said_lead(flow, node_id, said))
        if again:
            self.update(times_asked=s.times_asked + 1)
        else:
            self.update(times_asked=1, unclear=())
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

    # --- red flags ---------------------------------------------------------------------------------------------

    def interrupt(self, flags: tuple[str, ...], also_ask: tuple[str, ...] = ()) -> Turn:
        """The interrupt for `flags`, at the highest of their levels; `also_ask`: unsure signs worth the yes/no
        question after it (an emergency sign only asked about beside a clot or a crisis)."""
        table = self.screener.table
        interrupt = table.level(flags)
        assert interrupt is not None
        level, number, dial = _LEVEL_OF[interrupt], self.number, self.emergency.dial
        line = safety.crisis_line_text(self.policy.crisis(self.session.country))
        parts = safety.interrupt_parts(table, flags, number, line)
        stopped = self.session.status is SessionStatus.stopped
        if not stopped:
            parts.append(Text("interrupt.paused"))
        if self.policy.escalation != "off":
            parts.append(Text("escalation.told"))
        self.say(*parts, kind="interrupt", call=dial if level is Level.emergency else None)
        self.effects.append(Escalate(level=level.value, reason=interrupt, red_flags=flags))
        self.audit("interrupt", interrupt=interrupt, flags=",".join(flags), level=level.value)
        standing = tuple(dict.fromkeys((*self.session.red_flags, *flags)))
        if stopped:
            return self.update(red_flags=standing, safety_check=None).done()
        s = self.session
        paused = s.paused if s.status is SessionStatus.escalated else self.position()
        scheduled = self.schedule(level)
        self.update(
            flow_id=self.intake.id,
            flow_version=self.intake.version,
            status=SessionStatus.escalated,
            node=None,
            red_flags=standing,
            interrupt=interrupt,
            level=level,
            assessed_at=self.now,
            checkins_scheduled=scheduled,
            safety_check=None,
            paused=paused,
        )
        worth_asking = tuple(f for f in also_ask if table.get(f).interrupt == "emergency")
        if worth_asking and not any(table.get(f).interrupt == "emergency" for f in flags):
            return self.confirm(worth_asking)
        return self.done()

    def position(self) -> Position:
        s = self.session
        return Position(
            flow_id=s.flow_id,
            flow_version=s.flow_version,
            node=s.node,
            status=s.status,
            level=s.level,
            interrupt=s.interrupt,
        )

    def confirm(self, flags: tuple[str, ...], resume: Position | None = None) -> Turn:
        """One yes/no question about `flags` now; the conversation stays where it was until it is answered."""
        check = SafetyCheck(kind="confirm", flags=flags, resume=resume or self.position())
        self.effects.append(safety.question(check))
        self.audit("safety_check", reason="confirm", flags=",".join(flags))
        return self.update(safety_check=check).done()

    def withdrawing(self, found: Screen) -> bool:
        """The person denies every sign an emergency or urgent interrupt stands on ("I'm not short of breath")."""
        s = self.session
        if s.status is not SessionStatus.escalated or s.interrupt not in ("emergency", "urgent") or s.paused is None:
            return False
        return bool(s.red_flags) and set(s.red_flags) <= set(found.denied)

    def ask_withdrawal(self) -> Turn:
        s = self.session
        assert s.paused is not None
        check = SafetyCheck(kind="withdrawal", flags=s.red_flags, resume=s.paused)
        self.effects.append(safety.question(check, lead=(Text("withdrawal.lead"),)))
        self.audit("safety_check", reason="withdrawal", flags=",".join(check.flags))
        return self.update(safety_check=check).done()

    def safety_answer(self, answer: str | None, found: Screen | None) -> Turn:
        """The answer to the pending safety question. Yes or not sure gives the sign's message; a clear no goes back
        to where the conversation was; anything else is asked once more (a confirm) or keeps the advice given (a
        withdrawal)."""
        check = self.session.safety_check
        assert check is not None
        if answer is None and found is not None and set(check.flags) <= set(found.denied):
            answer = "no"  # "I'm not short of breath"
        self.audit("safety_answer", reason=check.kind, answer=answer or "unclear", flags=",".join(check.flags))
        if check.kind == "withdrawal":
            return self.withdrawn(check) if answer == "no" else self.keep_advice()
        if answer is None and check.asked < safety.ASKED_AT_MOST:
            again = check.model_copy(update={"asked": check.asked + 1})
            self.effects.append(safety.question(again, lead=(Text("safety.again"),)))
            return self.update(safety_check=again).done()
        if answer != "no":
            return self.interrupt(check.flags)
        self.update(safety_check=None)
        if found is not None and found.interrupt == "confirm":  # "no, but could this be a clot?"
            others = tuple(f for f in found.matched if f not in check.flags)
            if others:
                return self.confirm(others, check.resume)
        return self.resume(Text("safety.thanks"), Text("safety.thanks_done", (("number", self.number),)))

    def withdrawn(self, check: SafetyCheck) -> Turn:
        """A clear "no" to a sign that interrupted: the questions go on from where the interrupt paused them. The
        interrupt stays in the audit trail; the withdrawal is recorded beside it."""
        back = check.resume
        s = self.session
        self.audit("withdrawn", flags=",".join(check.flags), interrupt=s.interrupt or "", level=(back.level or "none"))
        standing = tuple(f for f in s.red_flags if f not in check.flags)
        self.update(
            flow_id=back.flow_id,
            flow_version=back.flow_version,
            node=back.node,
            status=back.status,
            level=back.level,
            interrupt=back.interrupt,
            red_flags=standing,
            safety_check=None,
            paused=None,
        )
        if back.status is SessionStatus.completed and back.level is not None:
            self.update(checkins_scheduled=self.schedule(back.level))
        return self.resume(Text("safety.thanks"), Text("safety.thanks_done", (("number", self.number),)))

    def keep_advice(self) -> Turn:
        """Anything but a clear "no": the interrupt's advice stands, said again."""
        line = safety.crisis_line_text(self.policy.crisis(self.session.country))
        parts = safety.interrupt_parts(self.screener.table, self.session.red_flags, self.number, line)
        call = self.emergency.dial if self.session.level is Level.emergency else None
        self.say(Text("withdrawal.kept"), *parts, kind="interrupt", call=call)
        return self.update(safety_check=None).done()

    def resume(self, lead: Text, ended: Text) -> Turn:
        """Back where the conversation was: its pending question asked again, or the welcome if it had not begun."""
        s = self.session
        if s.status is SessionStatus.active and not s.disclaimer_shown:
            return self.restart(None)
        if s.status is SessionStatus.active and s.node is not None and self.resumable():
            return self.ask(s.node, lead=(lead,)).done()
        return self.say(ended).done()

    def next_question(self, *, again: bool = False) -> Turn:
        """Ask what is pending: the safety question, else the flow's question (with the welcome, if the questions
        have not begun), else nothing. `again`: the same question straight after it was asked (counted)."""
        s = self.session
        if s.safety_check is None and s.status is SessionStatus.active and not s.disclaimer_shown:
            return self.begin()
        if s.safety_check is not None:
            self.effects.append(safety.question(s.safety_check))
            return self.done()
        return self.ask(s.node, again=again).done() if s.status is SessionStatus.active and s.node else self.done()

    # --- commands --------------------------------------------------------------------------------------------------

    def command(self, name: str, argument: str) -> Turn:
        s = self.session
        if name == "stop":
            self.effects.append(CancelCheckIns("stop"))
            self.update(status=SessionStatus.stopped, node=None, safety_check=None)
            return self.say(Text("command.stopped", (("number", self.number),))).audit("stopped").done()
        if name == "delete":
            self.effects.extend([CancelCheckIns("delete"), DeleteData()])
            return self.say(Text("command.deleted", (("number", self.number),))).audit("deleted").done()
        if name == "start" and s.safety_check is not None:
            return self.next_question()
        if name == "start" and s.status is SessionStatus.active and s.answers and self.resumable():
            assert s.node is not None
            return self.ask(s.node, lead=(Text("command.continue"),)).done()
        if name in {"start", "restart"}:
            return self.restart(None)
        if name == "help":
            self.say(Text("command.help", (("number", self.number),)))
            return self.next_question(again=self.asking())
        if name == "language":
            locale = argument if argument in LOCALES else ("es" if s.locale == "en" else "en")
            self.update(locale=locale, locale_set=True)
            self.leads.clear()
            if s.status is SessionStatus.active and not s.disclaimer_shown and s.safety_check is None:
                return self.begin()  # the welcome, in the language asked for
            self.say(Text("command.language"))
            return self.next_question()
        if name == "human":
            return self.human()
        if name == "back":
            if s.safety_check is not None:
                return self.next_question()
            if s.status is not SessionStatus.active or not s.answers or not self.resumable():
                self.say(Text("command.nothing_back"))
                return self.next_question()
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
        return self.next_question(again=self.asking())

    def restart(self, lead: Text | None) -> Turn:
        s = self.session
        self.effects.append(CancelCheckIns("restart"))
        fresh = new_session(self.intake, self.now, s.locale, s.country)
        # A restart keeps the count of check-ins ever scheduled, so the ids of new ones never repeat old ones.
        self.session = fresh.model_copy(update={"disclaimer_shown": True, "checkins_scheduled": s.checkins_scheduled})
        intro = lead or Text("welcome", (("number", self.number),))
        return self.ask(self.intake.start, lead=(intro,)).audit("started", flow=self.intake.id).done()

    # --- what the person says ------------------------------------------------------------------------------------

    def heard(self, text: str) -> None:
        """Before anything else is done with a message: the language it is written in (the person's first message
        settles it, unless they chose one), and the findings it volunteers."""
        s = self.session
        if s.status is SessionStatus.stopped:
            return
        if not s.locale_set:  # the first message the person writes settles the language, if it says clearly
            written = self.language.written_in(self.language.lexicon.read(text))
            if written in LOCALES and written != s.locale:
                self.leads.append(Text(DETECTED if not s.disclaimer_shown else SWITCHED))
                self.update(locale=written)
            self.update(locale_set=True)
        said = said_in(self.language, self.intake, text, self.now)
        if said is NOTHING:
            return
        known = self.session.volunteered.model_dump(exclude_none=True)
        kept = {name: value for name, value in known.items() if name not in said.denied}
        self.said, self.new_findings = said, any(known.get(k) != v for k, v in said.findings.items())
        self.update(volunteered=Findings.model_validate({**kept, **said.findings}))

    def asking(self) -> bool:
        """A question of the flow is waiting for its answer (no safety question, the questions begun)."""
        s = self.session
        active = s.status is SessionStatus.active and s.disclaimer_shown and s.node is not None
        return active and s.safety_check is None and self.resumable()

    def begin(self) -> Turn:
        """The first message: the welcome and the first question, keeping the language and the findings it gave."""
        s = self.session
        lead = list(self.leads)
        self.leads.clear()
        self.restart(None)
        self.update(volunteered=s.volunteered, locale_set=s.locale_set, locale=s.locale)
        if lead:
            first = next(i for i, e in enumerate(self.effects) if isinstance(e, SendReply))
            reply = self.effects[first]
            assert isinstance(reply, SendReply)
            self.effects[first] = dataclasses.replace(reply, parts=(*lead, *reply.parts))
        return self.done()

    # --- the flow --------------------------------------------------------------------------------------------------

    def reply(self, reading: Reading) -> Turn:
        """A typed reply to the pending question: its answer; or a command; or, when it is no answer, the question
        again with what it takes (at most three times in a row: then the safer answer is recorded, and we go on)."""
        s = self.session
        assert s.node is not None
        node_id, flow = s.node, self.flow
        if isinstance(reading, CommandWord):
            return self.command(reading.name, reading.argument)
        if isinstance(reading, Answered):
            return self.answered(reading.values)
        own = self.volunteered_here(node_id)
        if own:  # "I came off my bike": no answer the question's words know, but a finding that answers it
            return self.answered(own)
        if s.times_asked >= asking.MAX_ASKED:
            return self.give_up(node_id)
        said_only = isinstance(reading, WhichOne) or isinstance(reading, Unclear) and reading.reason == "not_understood"
        if said_only and self.new_findings:  # "I'm 52 by the way": kept, and the question asked again
            return self.ask(node_id, (Text(asking.SAID_NOTED),), again=True).done()
        if isinstance(reading, Unclear):
            if reading.reason == "vague" and "vague" in s.unclear:
                return self.give_up(node_id)  # a number was asked for once already
            lead = asking.retry(flow, node_id, reading, s.unclear)
            self.update(unclear=(*s.unclear, reading.reason))
            self.audit("not_understood", node=node_id, reason=reading.reason, times=str(len(s.unclear) + 1))
            return self.ask(node_id, lead, again=True).done()
        return self.ask(node_id, asking.retry(flow, node_id, reading, s.unclear), again=True).done()

    def volunteered_here(self, node_id: str) -> tuple[str, ...]:
        """The answer this message volunteered to the pending question, when its words were not the question's."""
        if self.said is NOTHING or self.flow is not self.intake:
            return ()
        node = self.flow.nodes[node_id]
        said = Findings.model_validate(self.said.findings)
        if node.kind == "number":
            answer = asking.skipped(self.flow, node_id, said)
            return (answer.value,) if answer else ()
        named = asking.offered(self.flow, node_id, said)
        return named if node.several or len(named) == 1 else ()

    def answered(self, values: tuple[str, ...], lead: tuple[Text, ...] = ()) -> Turn:
        """Record `values` at the pending question, with the choices the person volunteered before."""
        node_id = self.session.node
        assert node_id is not None
        said = asking.offered(self.flow, node_id, self.session.volunteered) if self.flow is self.intake else ()
        return self.answer(asking.merged(self.flow, node_id, values, said), lead)

    def give_up(self, node_id: str) -> Turn:
        """Asked three times without an answer: the safer answer is recorded, the person told, and we go on."""
        value, told = asking.given_up(self.flow, node_id)
        self.audit("not_answered", node=node_id, recorded=value)
        return self.answered((value,), lead=(told,))

    def answer(self, answer: Answer, lead: tuple[Text, ...] = ()) -> Turn:
        assert self.session.node is not None
        flow = self.flow
        answers = (*self.session.answers, answer)

        folded: dict[int, tuple[Findings, frozenset[str]]] = {}

        def facts() -> tuple[Findings, frozenset[str]]:  # the answers folded into findings once each, only if needed
            if len(answers) not in folded:
                folded[len(answers)] = flow.findings(answers)
            return folded[len(answers)]

        target = flow.next_node(self.session.node, answer, facts)
        while flow is self.intake and flow.nodes[target].kind != "assessment":
            # Skipped: the questions what the person volunteered already answers ("I'm 34", "fell off my bike").
            known = asking.skipped(flow, target, self.session.volunteered)
            if known is None:
                break
            self.audit("volunteered", node=target)
            answers = (*answers, known)
            target = flow.next_node(target, known, facts)
        self.update(times_asked=0, unclear=())
        if flow.nodes[target].kind != "assessment":
            return self.update(answers=answers, node=target).ask(target, lead=lead).done()
        if lead:
            self.say(*lead)
        if flow is self.checkin:
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
        # Busy: in the middle of a new set of questions, or of a safety question.
        busy = (s.status is SessionStatus.active and s.flow_id == self.intake.id) or s.safety_check is not None
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
