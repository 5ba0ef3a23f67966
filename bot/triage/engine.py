"""The engine: advance(flow, session, event, now) -> Turn. Red flags first, then commands, then the flow. Pure."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from bot.triage import advice, asking, danger, outcome, rules, safety
from bot.triage.assessment import Assessment
from bot.triage.country import country_command
from bot.triage.effects import (
    MORE_NODE,
    AuditRecord,
    CancelCheckIns,
    ChoiceOption,
    DeleteData,
    Effect,
    Escalate,
    Param,
    ScheduleCheckIn,
    SendReply,
    ShareWithStaff,
    Text,
)
from bot.triage.emergency import CountryTable, CrisisLine, EmergencyNumber, Regions, TableRegions
from bot.triage.events import CheckInDue, ChoiceSelected, CommandReceived, Event, HandoffEnded, MessageReceived
from bot.triage.findings import Findings, Level
from bot.triage.flow import UNSURE, FlowDefinition
from bot.triage.language import Language
from bot.triage.matching import read_answer, read_command
from bot.triage.reading import Answered, CommandWord, Reading, Unclear, WhichOne
from bot.triage.red_flags import PRIORITY, Screen, Screener
from bot.triage.session import Answer, Danger, Position, SafetyCheck, Session, SessionStatus
from bot.triage.text import clean, split_words
from bot.triage.volunteered import NOTHING, Said, said_in

LOCALES = ("en", "es")
CRISIS = ("suicidal",)  # the sign a check-in after a crisis message asks about when no other is on record
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
# What a check-in after a crisis message follows up: the writer, or another person they told about. The check-in
# flow names a start for each (flows/checkin.yaml `starts`).
CRISIS_CHECKIN, SOMEONE_ELSE_CHECKIN = CRISIS_CHECKINS = ("crisis", f"crisis.{safety.SOMEONE_ELSE}")
# Message keys the engine composes itself (the flows' own are checked from the flows).
KEYS = (
    "welcome.country",
    "country.set",
    "country.ask",
    "country.unknown",
    *(f"checkin.lead.{context}" for context in CRISIS_CHECKINS),
    *(f"checkin.lead.{level.value}" for level in Level),
    *(f"checkin.nudge.{level.value}" for level in Level),
    *(f"checkin.{ending}.{level}" for ending in ("not_seen", "could_not") for level in ("emergency", "urgent")),
    *(f"checkin.{ending}" for ending in ("better", "same", "better.seen", "same.seen", "safe_now", "someone_safe_now")),
    *(f"checkin.{key}" for key in ("tips", "worse", "next", "last")),
    "clinic.call",
    *(f"handoff.{key}" for key in ("ask", "again", "paused", "ended", "ended_done", "staff")),
    "command.human.handoff",
)
# The node id of the handoff consent question's buttons (no flow node id begins with "_").
HANDOFF_NODE = "_handoff"
# Commands that still work while the person talks to the clinic's staff: everything else they write goes to staff.
HANDOFF_COMMANDS = frozenset({"stop", "delete"})
# A check-in that comes due while the person is answering new questions within 24 hours of an emergency or urgent
# message waits this long, and goes ahead once they have been quiet as long (the questions were left unfinished).
CHECKIN_WAIT = timedelta(minutes=30)
# "Not yet" or "couldn't be seen" at the check-in after an emergency or urgent message, with no check-in left: asked
# again after the level's first delay, this many times at most (REFERENCE.md: "Did you get help?").
RECHECKS = 2


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
    # Countries by name, for the welcome and the COUNTRY command (the shell's, from phonenumbers); None: the table's
    # codes alone.
    regions: Regions | None = None
    # How to reach the clinic, as the person reads it, by language: CLINIC_PHONE, with CLINIC_HOURS in brackets
    # ("555 0100 (Mon-Fri 8:00-18:00)"; in Spanish "(lun-vie 8:00-18:00)"). Said with HUMAN and with escalations
    # below emergency; empty: not configured.
    clinic: Mapping[str, str] = field(default_factory=dict)

    @property
    def names(self) -> Regions:
        return self.regions or TableRegions(self.countries)

    def emergency(self, country: str | None) -> EmergencyNumber:
        """The number for a person in `country` (None: the deployment's default country)."""
        return self.countries.emergency(country, self.default_country, self.emergency_number)

    def crisis(self, country: str | None) -> CrisisLine | None:
        return self.countries.crisis(country, self.default_country)

    def call_clinic(self, locale: str) -> tuple[Text, ...]:
        """The line "you can call the clinic on ..." in `locale`'s words, or nothing where no clinic is configured."""
        reach = self.clinic.get(locale) or self.clinic.get("en")
        return (Text("clinic.call", (("clinic", reach),)),) if reach else ()


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
    if isinstance(event, HandoffEnded):
        return step.handed_back()
    talking = session.handoff == "open"  # to the clinic's staff: what the person writes goes to them
    if isinstance(event, MessageReceived):
        step.heard(event.text)
        found = screener.screen(event.text)
        if talking:  # staff see every message, a red flag's first
            step.effects.append(ShareWithStaff(event.text))
        if found.interrupt in PRIORITY:
            return step.interrupt(found.matched, also_ask=found.mentioned, someone_else=found.someone_else)
        if talking and session.safety_check is None and found.interrupt != "confirm":
            return step.in_handoff(event.text)
        # The country word first: "COUNTRY GB" is no answer to any question, so it works with one pending.
        country = country_command(event.text, language, step.policy.names)
        if country is not None:
            return step.command(*country)
        if session.handoff in ("asked", "asked_again"):
            return step.consent(screener.answer(event.text), event.text)
        if not step.asking():  # a question pending reads its own answer first: "alto" is a pain score there
            command = read_command(language, event.text)
            if command is not None:
                return step.command(command.name, command.argument)
        if session.safety_check is not None:
            return step.safety_answer(screener.answer(event.text), found)
        if found.interrupt == "confirm":
            return step.confirm(found.matched, someone_else=found.someone_else)
        if step.withdrawing(found):
            return step.ask_withdrawal()
    if isinstance(event, CommandReceived):
        if talking and event.command not in HANDOFF_COMMANDS:
            return step.handoff_reminder()
        return step.command(event.command, event.argument)
    if isinstance(event, ChoiceSelected) and event.node == HANDOFF_NODE:
        if session.handoff not in ("asked", "asked_again") or event.choice not in ("yes", "no"):
            return step.say(Text("answer.stale")).next_question()
        return step.consent(event.choice, None)
    if talking and not (isinstance(event, ChoiceSelected) and event.node == safety.SAFETY_NODE):
        return step.handoff_reminder()
    if isinstance(event, ChoiceSelected) and event.node == MORE_NODE:
        return step.details((event.choice,))
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


def closing(level: Level, policy: Policy, told: bool, locale: str) -> tuple[Text, ...]:
    """The end of an outcome: the clinic was told (where this outcome opened a case), the check-in offer."""
    parts: list[Text] = []
    if told and policy.escalation != "off":
        parts.append(Text("escalation.told"))
        parts.extend(policy.call_clinic(locale))
    delays = policy.checkins.get(level, ())
    if delays:
        # The wording names the default schedule's times; a deployment with another schedule gets a vaguer line.
        same = tuple(delays) == DEFAULT_CHECKINS.get(level)
        parts.append(Text(f"checkin.offer.{level.value}" if same else "checkin.offer.later"))
    return tuple(parts)


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

    def interrupt(
        self,
        flags: tuple[str, ...],
        also_ask: tuple[str, ...] = (),
        reason: Text | None = None,
        someone_else: tuple[str, ...] = (),
    ) -> Turn:
        """The interrupt for `flags`, at the highest of their levels; `also_ask`: unsure signs worth the yes/no
        question after it (an emergency sign only asked about beside a clot or a crisis); `reason`: the words in
        place of the flags' own reason; `someone_else`: the crisis signs said only of another person (the crisis
        message is worded for someone worried about them). An urgent clot message asks the emergency signs of a clot
        in the lung at once, in the same reply. The signs are remembered for 24 hours."""
        table = self.screener.table
        interrupt = table.level(flags)
        assert interrupt is not None
        level, number, dial = _LEVEL_OF[interrupt], self.number, self.emergency.dial
        line = safety.crisis_line_text(self.policy.crisis(self.session.country))
        parts = safety.interrupt_parts(
            table, flags, number, line, reason=reason, child=self.child(), someone_else=someone_else
        )
        stopped = self.session.status is SessionStatus.stopped
        if not stopped:
            parts.append(Text("interrupt.paused"))
        if self.policy.escalation != "off":
            parts.append(Text("escalation.told"))
            if level is not Level.emergency:  # an emergency's one action is the call
                parts.extend(self.policy.call_clinic(self.session.locale))
        if self.session.handoff in ("asked", "asked_again"):  # the red flag comes first: the consent is not asked
            self.update(handoff=None)
        worth_asking = tuple(f for f in also_ask if table.get(f).interrupt == "emergency")
        emergency = any(table.get(f).interrupt == "emergency" for f in flags)
        clot = not stopped and interrupt == "urgent" and not worth_asking
        call = dial if level is Level.emergency else None
        if not clot:
            self.say(*parts, kind="interrupt", call=call)
        self.effects.append(Escalate(level=level.value, reason=interrupt, red_flags=flags))
        self.audit("interrupt", interrupt=interrupt, flags=",".join(flags), level=level.value)
        standing = tuple(dict.fromkeys((*self.session.red_flags, *flags)))
        # A sign said of another person before and of the writer now is the writer's.
        of_others = tuple(
            f for f in standing if f in someone_else or (f in self.session.someone_else and f not in flags)
        )
        self.remember(Danger(level=level, signs=flags, at=self.now))
        if stopped:
            return self.update(red_flags=standing, someone_else=of_others, safety_check=None).done()
        s = self.session
        paused = s.paused if s.status is SessionStatus.escalated else self.position()
        scheduled = self.schedule(level)
        self.update(
            flow_id=self.intake.id,
            flow_version=self.intake.version,
            status=SessionStatus.escalated,
            node=None,
            red_flags=standing,
            someone_else=of_others,
            interrupt=interrupt,
            level=level,
            assessed_at=self.now,
            checkins_scheduled=scheduled,
            safety_check=None,
            paused=paused,
        )
        if clot:
            check = SafetyCheck(kind="clot", flags=danger.PE_SIGNS, resume=self.position())
            self.effects.append(safety.question(check, lead=tuple(parts), kind="interrupt"))
            self.audit("safety_check", reason="clot", flags=",".join(check.flags))
            return self.update(safety_check=check).done()
        if worth_asking and not emergency:
            return self.confirm(worth_asking)
        return self.done()

    def remember(self, new: Danger | None) -> None:
        if new is not None:
            self.update(danger=danger.merged(self.session.danger, new, self.now))

    def standing_danger(self) -> Danger | None:
        """An emergency or urgent message of the last 24 hours, with a sign still to ask about or a level held."""
        d = self.session.danger
        return d if d is not None and d.stands(self.now) else None

    def recent_danger(self) -> Danger | None:
        """An emergency or urgent message of the last 24 hours, its signs answered or not: its check-in follows it."""
        d = self.session.danger
        return d if d is not None and d.recent(self.now) else None

    def child(self) -> bool:
        """Whether the person asked about is a child under 16, as far as the answers say (those kept from before
        a check-in or a re-assessment included)."""
        s = self.session
        return rules.child(self.intake.findings((*s.previous, *s.answers))[0])

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

    def confirm(
        self, flags: tuple[str, ...], resume: Position | None = None, someone_else: tuple[str, ...] = ()
    ) -> Turn:
        """One yes/no question about `flags` now (worded for another person for those in `someone_else`); the
        conversation stays where it was until it is answered."""
        check = SafetyCheck(kind="confirm", flags=flags, resume=resume or self.position(), someone_else=someone_else)
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
        """The answer to the pending safety question. Yes or not sure gives the sign's message (after a clot message,
        the emergency message); a clear no goes back to where the conversation was (after a clot message, the
        same-day advice stands; a sign remembered from earlier is dropped); anything else is asked once more, then
        counts as not sure (or, to a withdrawal, keeps the advice given)."""
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
        if answer != "no" and check.kind == "clot":
            return self.interrupt(check.flags, reason=Text("clot.emergency_reason"))
        if answer != "no":
            return self.interrupt(check.flags, someone_else=check.someone_else)
        self.update(safety_check=None)
        if check.kind == "clot":
            self.say(Text("clot.kept", (("number", self.number),)), kind="interrupt")
            return self.done()
        if check.kind == "danger" and self.session.danger is not None:
            self.update(danger=danger.cleared(self.session.danger, check.flags))
            self.audit("danger_dropped", flags=",".join(check.flags))
        if found is not None and found.interrupt == "confirm":  # "no, but could this be a clot?"
            others = tuple(f for f in found.matched if f not in check.flags)
            if others:
                return self.confirm(others, check.resume, found.someone_else)
        num: tuple[tuple[str, Param], ...] = (("number", self.number),)
        lead = Text("danger.dropped", num) if check.kind == "danger" else Text("safety.thanks")
        return self.resume(lead, Text("safety.thanks_done", num))

    def withdrawn(self, check: SafetyCheck) -> Turn:
        """A clear "no" to a sign that interrupted: the questions go on from where the interrupt paused them. The
        interrupt stays in the audit trail; the withdrawal is recorded beside it."""
        back = check.resume
        s = self.session
        self.audit("withdrawn", flags=",".join(check.flags), interrupt=s.interrupt or "", level=(back.level or "none"))
        standing = tuple(f for f in s.red_flags if f not in check.flags)
        if s.danger is not None:
            self.update(danger=danger.cleared(s.danger, check.flags))
        self.update(
            flow_id=back.flow_id,
            flow_version=back.flow_version,
            node=back.node,
            status=back.status,
            level=back.level,
            interrupt=back.interrupt,
            red_flags=standing,
            someone_else=tuple(f for f in s.someone_else if f in standing),
            safety_check=None,
            paused=None,
        )
        if back.status is SessionStatus.completed and back.level is not None:
            self.update(checkins_scheduled=self.schedule(back.level))
        return self.resume(Text("safety.thanks"), Text("safety.thanks_done", (("number", self.number),)))

    def keep_advice(self) -> Turn:
        """Anything but a clear "no": the interrupt's advice stands, said again."""
        line = safety.crisis_line_text(self.policy.crisis(self.session.country))
        s = self.session
        parts = safety.interrupt_parts(self.screener.table, s.red_flags, self.number, line, someone_else=s.someone_else)
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
        if name == "tips":
            return self.details(outcome.DETAILS)
        if name == "country":
            return self.choose_country(argument)
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
        """The person asked for a person. Where the clinic's staff are on this service, they are asked first whether
        they agree to share their contact and their messages from now on with the clinic (`consent`)."""
        num = (("number", self.number),)
        if self.policy.escalation == "off":
            self.say(Text("command.human_unavailable", num))
            return self.next_question(again=self.asking())
        self.update(handoff="asked")
        self.effects.append(self.consent_question())
        return self.audit("handoff_asked").done()

    def consent_question(self, *lead: Text) -> SendReply:
        choices = tuple(ChoiceOption(answer, Text(f"safety.{answer}")) for answer in ("yes", "no"))
        return SendReply(parts=(*lead, Text("handoff.ask")), choices=choices, node=HANDOFF_NODE, kind="confirm")

    def consent(self, answer: str | None, text: str | None) -> Turn:
        """The answer to the consent question. Yes: a case the person talks to staff in. No (or not sure, or no
        answer twice): the case without their contact or messages, as before there was a handoff. A command
        instead of an answer (STOP) is carried out."""
        s, num = self.session, (("number", self.number),)
        if answer is None and text is not None:
            command = read_command(self.language, text)
            if command is not None:
                self.update(handoff=None)
                return self.command(command.name, command.argument)
            if s.handoff == "asked":
                self.update(handoff="asked_again")
                self.effects.append(self.consent_question(Text("handoff.again")))
                return self.done()
        level = s.level.value if s.level else "unassessed"
        clinic = self.policy.call_clinic(s.locale)
        if answer == "yes":
            self.effects.append(Escalate(level=level, reason="human", red_flags=s.red_flags, consent=True))
            self.say(Text("command.human.handoff", num), *clinic)
            self.audit("human_requested", level=level, consent="yes")
            return self.update(handoff="open").done()
        self.update(handoff=None)
        self.effects.append(Escalate(level=level, reason="human", red_flags=s.red_flags, consent=False))
        self.say(Text("command.human.anonymous", num), *clinic)
        self.audit("human_requested", level=level, consent="no")
        return self.next_question(again=self.asking())

    def in_handoff(self, text: str) -> Turn:
        """A message while the person talks to staff: it went to them (ShareWithStaff, already added); STOP and
        DELETE still work; nothing else is read, and kneebot says nothing."""
        command = read_command(self.language, text)
        if command is not None and command.name in HANDOFF_COMMANDS:
            return self.command(command.name, command.argument)
        return self.done()

    def handoff_reminder(self) -> Turn:
        """A button or a command while the person talks to staff: the questions wait until staff close the case."""
        return self.say(Text("handoff.paused", (("number", self.number),))).done()

    def handed_back(self) -> Turn:
        """Staff closed the case: kneebot again, where the conversation was (its pending question, if any)."""
        s, num = self.session, (("number", self.number),)
        if s.handoff != "open":
            return self.done()
        self.update(handoff=None)
        self.audit("handoff_ended")
        if s.safety_check is not None:
            self.say(Text("handoff.ended", num))
            return self.next_question()
        return self.resume(Text("handoff.ended", num), Text("handoff.ended_done", num))

    def restart(self, lead: Text | None, kept: tuple[Answer, ...] = ()) -> Turn:
        """New questions from the start (`kept`: answers given again without asking, after a check-in's "worse").
        An emergency or urgent message of the last 24 hours stays: its check-in is not cancelled, and its signs are
        asked about first, in one yes/no question."""
        s = self.session
        standing = self.standing_danger()
        if standing is None:
            self.effects.append(CancelCheckIns("restart"))
        fresh = new_session(self.intake, self.now, s.locale, s.country)
        # A restart keeps the count of check-ins ever scheduled, so the ids of new ones never repeat old ones.
        keep = {"disclaimer_shown": True, "checkins_scheduled": s.checkins_scheduled, "danger": standing}
        self.session = fresh.model_copy(update={**keep, "previous": kept})
        intro = (lead,) if lead else (Text("welcome", (("number", self.number),)), *self.country_line())
        if standing is None or not standing.open_signs:
            return self.ask(self.intake.start, lead=intro).audit("started", flow=self.intake.id).done()
        self.audit("started", flow=self.intake.id)
        check = SafetyCheck(kind="danger", flags=standing.open_signs, resume=self.position())
        self.effects.append(safety.question(check, lead=(*intro, Text("danger.lead"))))
        self.audit("safety_check", reason="danger", flags=",".join(check.flags))
        return self.update(safety_check=check).done()

    def country_line(self) -> tuple[Text, ...]:
        """Where no phone number says the country (Telegram), which emergency number the replies give, and how to
        change it; nothing where a clinic's own number is given everywhere."""
        if self.session.country is not None or self.policy.emergency_number:
            return ()
        return (Text("welcome.country", self.country_params(self.policy.default_country)),)

    def country_params(self, code: str) -> tuple[tuple[str, Param], ...]:
        name = self.policy.names.name(code, self.session.locale) or code
        return (("number", self.number), ("country", name))

    def choose_country(self, said: str) -> Turn:
        """COUNTRY GB: the replies give that country's emergency number (and crisis line) from now on."""
        code = self.policy.names.find(" ".join(split_words(clean(said)))) if said.strip() else None
        if code is None:
            self.say(Text("country.unknown" if said.strip() else "country.ask", (("number", self.number),)))
            return self.next_question()
        self.update(country=code).audit("country_set")
        self.say(Text("country.set", self.country_params(code)))
        return self.next_question()

    def details(self, which: tuple[str, ...]) -> Turn:
        """TIPS, or an outcome's button: the details it offered (home-care tips; why, with the possible causes)."""
        s = self.session
        parts: tuple[Text, ...] = ()
        if s.assessment is not None and s.status is SessionStatus.completed and s.flow_id == self.intake.id:
            findings, unsure = self.intake.findings(s.answers)
            own = rules.assess(findings, unsure)
            certain = rules.assess(findings) if unsure else own
            child = rules.child(findings)
            earlier = s.assessment.level > own.level
            parts = outcome.details(s.assessment, certain, child=child, earlier=earlier, which=which)
        if parts:
            self.say(*parts)
        else:
            self.say(Text("more.none", (("number", self.number),)))
        return self.next_question()

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
        kept = {a.node: a for a in self.session.previous} if flow is self.intake else {}
        while flow is self.intake and flow.nodes[target].kind != "assessment":
            # Given without asking: an answer kept from before a check-in's "worse" (Session.previous: age, how it
            # started), or what the person volunteered ("I'm 34", "fell off my bike").
            known = kept.pop(target, None)
            if known is None:
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
        return self.conclude(answers, *facts())

    def conclude(self, answers: tuple[Answer, ...], findings: Findings, unsure: frozenset[str]) -> Turn:
        """The assessment, at least the level of an emergency or urgent message of the last 24 hours."""
        own = rules.assess(findings, unsure)
        certain = rules.assess(findings) if unsure else own
        standing = self.standing_danger()
        earlier = standing is not None and standing.level > own.level
        assessment = own.model_copy(update={"level": standing.level}) if standing and earlier else own
        child = rules.child(findings)
        self.outcome(assessment, certain, told=own.level >= Level.urgent, child=child, earlier=earlier)
        held = {"reason": "earlier"} if earlier else {}  # the level of a message of the last 24 hours
        self.audit(
            "assessment",
            level=assessment.level.value,
            rules=",".join(assessment.rules),
            flow=f"{self.flow.id}@{self.flow.version}",
            **held,
        )
        if own.level >= Level.urgent:  # a level only held from earlier opened its case then
            summary = tuple((k, str(v)) for k, v in findings.model_dump(exclude_none=True).items())
            self.effects.append(Escalate(own.level.value, "assessment", red_flags=own.red_flags, findings=summary))
        self.remember(danger.of_outcome(own, certain, self.now))
        scheduled = self.schedule(assessment.level)
        self.update(
            answers=answers,
            status=SessionStatus.completed,
            node=None,
            assessment=assessment,
            level=assessment.level,
            assessed_at=self.now,
            checkins_scheduled=scheduled,
            previous=(),
        )
        return self.done()

    # --- check-ins ---------------------------------------------------------------------------------------------------

    def checkin_due(self, event: CheckInDue) -> Turn:
        """Ask how they are: "Are you safe right now?" after a crisis message, "Were you seen?" after an emergency or
        urgent one, "How is your knee now?" after the others; not after STOP, and not in the middle of new questions
        (within 24 hours of an emergency or urgent message it waits for them, then goes ahead if they were left)."""
        s = self.session
        recent = self.recent_danger()
        level = self.followed_level()
        # Busy: in the middle of a new set of questions, or of a safety question.
        busy = (s.status is SessionStatus.active and s.flow_id == self.intake.id) or s.safety_check is not None
        if self.checkin is None or s.status is SessionStatus.stopped or level is None or (busy and recent is None):
            reason = "stopped" if s.status is SessionStatus.stopped else "busy" if busy else "nothing_to_follow"
            return self.audit("checkin_skipped", seq=str(event.seq), reason=reason).done()
        if busy and self.now - s.updated_at < CHECKIN_WAIT:
            return self.defer(event, level)
        if s.handoff == "open":  # talking to the clinic's staff: the check-in waits until they are done
            return self.defer(event, level, reason="handoff")
        crisis = self.crisis_flags()
        context = level.value
        if crisis:  # "Are you safe right now?", or of the person they told about
            context = SOMEONE_ELSE_CHECKIN if set(crisis) <= set(s.someone_else) else CRISIS_CHECKIN
        start = self.checkin.start_for(context)
        self.update(
            flow_id=self.checkin.id,
            flow_version=self.checkin.version,
            node=start,
            status=SessionStatus.active,
            answers=(),
            previous=s.answers if s.flow_id == self.intake.id else s.previous,
            checkin_seq=event.seq,
            safety_check=None,
            disclaimer_shown=True,  # a check-in is no new conversation: its answers are not a first message
        )
        lead = Text(f"checkin.lead.{context}", (("number", self.number),))
        self.ask(start, lead=(lead,), kind="checkin")
        return self.audit("checkin_sent", seq=str(event.seq), level=level.value).done()

    def defer(self, event: CheckInDue, level: Level, reason: str = "busy") -> Turn:
        """A check-in due while the person is answering new questions (that of an emergency or urgent message), or
        talking to the clinic's staff: asked again later, under a new id, in case the questions are left unfinished
        or the talk goes on."""
        self.one_more_checkin(self.now + CHECKIN_WAIT, level)
        self.audit("checkin_deferred", seq=str(event.seq), reason=reason)
        return self.done()

    def followed_level(self) -> Level | None:
        """The level a check-in follows up: the last disposition, or an emergency or urgent one of the last 24
        hours that new questions have not replaced yet."""
        recent = self.recent_danger()
        levels = [lvl for lvl in (self.session.level, recent.level if recent else None) if lvl is not None]
        return max(levels) if levels else None

    def crisis_flags(self) -> tuple[str, ...]:
        """The crisis signs of the last message that interrupted, or of the last 24 hours."""
        s, table = self.session, self.screener.table
        recent = self.recent_danger()
        signs = (*s.red_flags, *(recent.signs if recent else ()))
        return tuple(dict.fromkeys(f for f in signs if table.get(f).interrupt == "crisis"))

    def checkin_outcome(self, ending: str) -> Turn:
        """The check-in's ending (flows/checkin.yaml): the conversation goes back to where the assessment left it,
        then what the ending says, the emergency number always in it."""
        s = self.session
        level = self.followed_level() or Level.self_care
        seen = any(a.node == "seen" and a.value == "yes" for a in s.answers)
        self.audit("checkin_answered", seq=str(s.checkin_seq), answer=ending, level=level.value)
        self.update(
            flow_id=self.intake.id,
            flow_version=self.intake.version,
            status=SessionStatus.completed,
            node=None,
            answers=s.previous,
            previous=(),
        )
        if ending == "worse":
            return self.reassess()
        if ending == "not_safe":
            return self.interrupt(self.crisis_flags() or CRISIS, someone_else=s.someone_else)
        parts = [*self.checkin_parts(ending, level, seen)]
        more = s.checkin_seq < s.checkins_scheduled or self.recheck(ending, level)
        parts.append(Text("checkin.next" if more else "checkin.last"))
        call = self.emergency.dial if level is Level.emergency and ending in ("not_seen", "could_not") else None
        return self.say(*parts, kind="outcome", call=call).done()

    def recheck(self, ending: str, level: Level) -> bool:
        """Not seen yet after an emergency or urgent message, and no check-in left: one more "Were you seen?" after
        the level's first delay (at most RECHECKS times since the assessment). True if one was scheduled."""
        delays = self.policy.checkins.get(level, ())
        if ending not in ("not_seen", "could_not") or level < Level.urgent or not delays:
            return False
        if self.session.rechecks >= RECHECKS:
            return False
        seq = self.one_more_checkin(self.now + delays[0], level)
        self.audit("checkin_rescheduled", seq=str(seq), level=level.value)
        self.update(rechecks=self.session.rechecks + 1)
        return True

    def one_more_checkin(self, due: datetime, level: Level) -> int:
        """Schedules one more check-in (the next in the count ever scheduled) following `level`; returns its seq.
        An emergency or urgent one may come in quiet hours."""
        seq = self.session.checkins_scheduled + 1
        exempt = level >= Level.urgent
        self.effects.append(ScheduleCheckIn(seq, due, level.value, exempt_from_quiet_hours=exempt))
        self.update(checkins_scheduled=seq)
        return seq

    def checkin_parts(self, ending: str, level: Level, seen: bool) -> list[Text]:
        s, num = self.session, (("number", self.number),)
        if ending in ("safe_now", "someone_safe_now"):
            line = safety.crisis_line_text(self.policy.crisis(s.country))
            return [Text(f"checkin.{ending}", num), *((line,) if line else ())]
        grave = "emergency" if level is Level.emergency else "urgent"
        watch = advice.watch_for(s.assessment) if s.assessment else advice.EMERGENCY_SIGNS
        call_if = outcome.call_if(tuple(k for k in watch if k not in advice.SAME_DAY_SIGNS), self.number, self.child())
        if ending in ("not_seen", "could_not"):  # "call now" again needs no "call if" after it
            return [Text(f"checkin.{ending}.{grave}", num), *((call_if,) if level is not Level.emergency else ())]
        if seen:  # after an emergency or urgent message, and seen: the care they were given goes on
            return [Text(f"checkin.{ending}.seen"), call_if]
        parts = [Text(f"checkin.{ending}"), call_if]  # the call-now line early: SMS can arrive out of order
        if ending == "same":
            elapsed = self.now - (s.assessed_at or s.started_at)
            if elapsed >= advice.NUDGE_AFTER[level]:
                parts.append(Text(f"checkin.nudge.{level.value}", num))
            tips = advice.care_tips(s.assessment) if s.assessment else ()
            if tips:
                parts.extend((Text("checkin.tips"), *(Text(tip) for tip in tips)))
        return parts

    def reassess(self) -> Turn:
        """A check-in answered "worse": the safety questions and whatever can have changed, asked again; the answers
        that cannot have changed kept (a duration grown by the time since it was given)."""
        s = self.session
        since = (self.now - (s.assessed_at or self.now)).total_seconds() / 86400
        kept: list[Answer] = []
        for answer in s.answers:
            node = self.intake.nodes.get(answer.node)
            if node is None or not node.kept or answer.value == UNSURE:
                continue
            if node.kind == "number" and node.parse == "days":
                answer = answer.model_copy(update={"value": f"{float(answer.value) + since:.2f}"})
            kept.append(answer)
        return self.restart(Text("checkin.worse"), kept=tuple(kept))

    def outcome(self, assessment: Assessment, certain: Assessment, *, told: bool, child: bool, earlier: bool) -> None:
        """The outcome message (bot.triage.outcome), and what the engine adds at its end: the clinic was told (only
        where this outcome opened a case), the check-in offer."""
        reply = outcome.outcome_reply(
            assessment,
            certain,
            number=self.number,
            dial=self.emergency.dial,
            child=child,
            earlier=earlier,
            closing=closing(assessment.level, self.policy, told, self.session.locale),
        )
        self.effects.append(reply)

    def schedule(self, level: Level) -> int:
        """Replaces pending check-ins with those for `level` (as effects); returns the new count ever scheduled."""
        delays = self.policy.checkins.get(level, ())
        self.effects.append(CancelCheckIns("new_assessment"))
        self.update(rechecks=0)
        seq = self.session.checkins_scheduled
        for i, delay in enumerate(delays, start=1):
            exempt = level >= Level.urgent
            self.effects.append(ScheduleCheckIn(seq + i, self.now + delay, level.value, exempt))
        return seq + len(delays)
