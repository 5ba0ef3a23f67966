"""Effects: what the engine asks the shell to do. Pure data; the shell applies them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

Param = str | int | float | tuple[str, ...]
# The node id of the buttons that ask for an outcome's details (`SendReply.more`): flow node ids are slugs
# ([a-z][a-z0-9_]*), so no flow can use it.
MORE_NODE = "_more"


@dataclass(frozen=True)
class Text:
    """A message key and its parameters. A tuple parameter is a list of message keys, rendered as a list."""

    key: str
    params: tuple[tuple[str, Param], ...] = ()

    def param_dict(self) -> dict[str, Param]:
        return dict(self.params)


@dataclass(frozen=True)
class ChoiceOption:
    id: str
    label: Text


@dataclass(frozen=True)
class SendReply:
    """One reply: paragraphs in order, and the choices of the question it asks, if any.

    `node` is the question the choices belong to, so a stale button can be recognised.
    `call` is the number to offer as tap-to-call (emergency messages).
    `more` are the details the person can ask for and this reply leaves out (an outcome's home-care tips, its
    possible causes): buttons on Telegram (MORE_NODE:<id>), one "reply TIPS" line on SMS.
    """

    parts: tuple[Text, ...]
    choices: tuple[ChoiceOption, ...] = ()
    node: str | None = None
    kind: str = "info"  # question | outcome | interrupt | info | checkin | confirm
    call: str | None = None
    more: tuple[ChoiceOption, ...] = ()


@dataclass(frozen=True)
class ScheduleCheckIn:
    """Ask 'how is your knee' at `due_at`; `seq` makes the id deterministic (<conversation>:<seq>)."""

    seq: int
    due_at: datetime
    level: str
    exempt_from_quiet_hours: bool = False


@dataclass(frozen=True)
class CancelCheckIns:
    reason: str


@dataclass(frozen=True)
class Escalate:
    """Hand the case to clinic staff. Carries no name or number: level, red flags and key findings only.
    `consent`: True, the person agreed to share their contact and the messages they send from now on (a handoff),
    and the shell keeps with the case where to reach them; False, they said no (no contact, whatever the deployment
    shares otherwise); None, not asked (the deployment's ESCALATION_SHARE_CONTACT decides)."""

    level: str
    reason: str
    red_flags: tuple[str, ...] = ()
    findings: tuple[tuple[str, str], ...] = field(default=())
    consent: bool | None = None


@dataclass(frozen=True)
class ShareWithStaff:
    """Keep this message of the person's with their case, for the clinic's staff to read: only while a handoff they
    consented to is open. The text goes to the case alone: never into a log or the audit trail."""

    text: str


@dataclass(frozen=True)
class DeleteData:
    """Remove everything stored for this person."""


@dataclass(frozen=True)
class AuditRecord:
    """An audit event; never message text or identifiers."""

    kind: str
    fields: tuple[tuple[str, str], ...] = ()


Effect = SendReply | ScheduleCheckIn | CancelCheckIns | Escalate | DeleteData | AuditRecord | ShareWithStaff
