"""The console's endpoints: sign-in and out, the open cases (live), a case and its actions, statistics and export.

Every page but sign-in needs a session; leads' pages need the lead role (403 otherwise); every POST needs the
session's CSRF token. Actions are recorded in the case and in the audit stream (kinds and ids, never text), and
nothing here logs an email, an address, a case id or a note.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl

from jinja2 import Environment
from markupsafe import Markup
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bot.console import charts
from bot.console.auth import Auth, Staff
from bot.console.config import Console
from bot.console.present import CaseView, Words, case_view, entry_view, file_outcome, message_view
from bot.console.stats import WEEK_CHOICES, Period, Statistics, Tally, entry_time, to_csv
from bot.storage.casework import OUTCOMES

log = logging.getLogger("kneebot.console")

MAX_FORM = 16 * 1024
CASE_ID = re.compile(r"K[A-Z2-7]{6}")
DONE = frozenset(
    {"acknowledged", "already_acknowledged", "resolved", "already_resolved", "noted", "note_empty", "note_full",
     "sent", "not_sent", "closed", "reply_empty", "resolved_told"}
)  # fmt: skip
Handler = Callable[[Request, "Site", Staff, dict[str, str]], Awaitable[Response]]


@dataclass(frozen=True)
class Site:
    console: Console
    auth: Auth
    templates: Environment
    words: Words

    def render(self, request: Request, name: str, status: int = 200, **context: object) -> HTMLResponse:
        page = self.templates.get_template(name).render(
            t=self.words, base=base_of(request), locale=self.words.locale, **context
        )
        return HTMLResponse(page, status_code=status)

    def error(self, request: Request, status: int, key: str, staff: Staff | None = None) -> HTMLResponse:
        return self.render(request, "error.html", status, message=self.words(key), staff=staff)


def site_of(request: Request) -> Site:
    site = request.app.state.site
    assert isinstance(site, Site)
    return site


def base_of(request: Request) -> str:
    """Where the console is mounted ("/staff"): links and cookie paths follow it."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def guarded(handler: Handler, *, lead: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """Signed in (else to the sign-in page, or 401 for a fragment), the lead role where asked (else 403), the
    CSRF token on a POST (else 403); a storage outage is a 503 page, never a traceback."""

    async def endpoint(request: Request) -> Response:
        site = site_of(request)
        if site.console.config.secret is None:
            return site.error(request, 503, "staff.console.error.not_configured")
        try:
            staff = await site.auth.current(request)
            if staff is None:
                signin = base_of(request) + "/signin"
                if request.method != "GET":
                    return site.error(request, 403, "staff.console.error.csrf")
                if request.headers.get("hx-request"):
                    return Response(status_code=401, headers={"HX-Redirect": signin})
                return RedirectResponse(signin, status_code=303)
            if lead and not staff.is_lead:
                return site.error(request, 403, "staff.console.error.forbidden", staff)
            form: dict[str, str] = {}
            if request.method == "POST":
                parsed = await read_form(request)
                if parsed is None:
                    return site.error(request, 400, "staff.console.error.bad_request", staff)
                if not site.auth.csrf_ok(staff, request, parsed):
                    log.info("console: a form without its session's token was refused")
                    return site.error(request, 403, "staff.console.error.csrf", staff)
                form = parsed
            return await handler(request, site, staff, form)
        except RedisError as e:
            log.warning("console: storage unavailable (%s)", type(e).__name__)
            return site.error(request, 503, "staff.console.error.unavailable")

    return endpoint


async def read_form(request: Request) -> dict[str, str] | None:
    """An urlencoded form of at most MAX_FORM bytes (the console's forms are small), first value of each field;
    an empty body is an empty form (a token may come in the X-CSRF-Token header)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return None
    if not body:
        return {}
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return None
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


# --- signing in and out -----------------------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    return RedirectResponse(base_of(request) + "/cases", status_code=303)


async def signin_page(request: Request) -> Response:
    site = site_of(request)
    if site.console.config.secret is None:
        return site.error(request, 503, "staff.console.error.not_configured")
    notice = site.words("staff.console.signed_out") if request.query_params.get("out") else None
    return signin_form(request, site, notice=notice)


def signin_form(
    request: Request, site: Site, *, status: int = 200, notice: str | None = None, problem: str | None = None,
    email: str = "",
) -> Response:  # fmt: skip
    token = site.auth.signin_token()
    response = site.render(
        request, "signin.html", status, staff=None, notice=notice, problem=problem, email=email, csrf=token
    )
    site.auth.set_signin_cookie(response, token, base_of(request))
    return response


async def signin(request: Request) -> Response:
    site = site_of(request)
    if site.console.config.secret is None:
        return site.error(request, 503, "staff.console.error.not_configured")
    form = await read_form(request)
    if form is None:
        return site.error(request, 400, "staff.console.error.bad_request")
    words = site.words
    if not site.auth.signin_form_ok(request, form):
        return signin_form(request, site, status=403, problem=words("staff.console.sign_in.expired"))
    email, password = form.get("email", "").strip()[:254], form.get("password", "")[:1024]
    now = site.console.clock.now()
    try:
        result = await site.auth.sign_in(email, password, client_address(request), now)
        if result.session_id is not None:
            previous = await site.auth.current(request)
            if previous is not None:  # signing in again: the old session ends, it does not carry over
                await site.auth.sign_out(previous)
    except RedisError as e:
        log.warning("console: storage unavailable (%s)", type(e).__name__)
        return site.error(request, 503, "staff.console.error.unavailable")
    if result.locked_until is not None:
        # Rounded up to the minute: never tell someone a time before the lock lifts.
        until = words.clock(result.locked_until + timedelta(seconds=59))
        locked = words("staff.console.sign_in.locked", until=until)
        return signin_form(request, site, status=429, problem=locked, email=email)
    if result.session_id is None:
        return signin_form(request, site, status=401, problem=words("staff.console.sign_in.refused"), email=email)
    response = RedirectResponse(base_of(request) + "/cases", status_code=303)
    site.auth.set_session(response, result.session_id, base_of(request))
    return response


async def _signout(request: Request, site: Site, staff: Staff, form: dict[str, str]) -> Response:
    await site.auth.sign_out(staff)
    response = RedirectResponse(base_of(request) + "/signin?out=1", status_code=303)
    site.auth.clear_session(response, base_of(request))
    return response


def client_address(request: Request) -> str:
    """The client's address as uvicorn reports it (behind a proxy: from X-Forwarded-For when the proxy is trusted,
    FORWARDED_ALLOW_IPS)."""
    return request.client.host if request.client else "unknown"


# --- cases ------------------------------------------------------------------------------------------------------------


async def _cases(request: Request, site: Site, staff: Staff, form: dict[str, str]) -> Response:
    cases, updated = await _open(site)
    poll_s = site.console.config.poll_s
    return site.render(request, "cases.html", staff=staff, cases=cases, updated=updated, poll_s=poll_s)


async def _rows(request: Request, site: Site, staff: Staff, form: dict[str, str]) -> Response:
    cases, updated = await _open(site)
    return site.render(request, "_cases.html", staff=staff, cases=cases, updated=updated, fragment=True)


async def _open(site: Site) -> tuple[list[CaseView], str]:
    """The open cases, oldest first, and the time the list was read (clinic time)."""
    now = site.console.clock.now()
    cases = [case_view(c, site.words, now) for c in await site.console.desk.open_cases()]
    return cases, now.astimezone(site.words.zone).strftime("%H:%M:%S")


async def _case(request: Request, site: Site, staff: Staff, form: dict[str, str]) -> Response:
    case_id = request.path_params["case_id"]
    found = await site.console.desk.file(case_id) if CASE_ID.fullmatch(case_id) else None
    if found is None:
        return site.error(request, 404, "staff.console.error.not_found", staff)
    words = site.words
    done = request.query_params.get("done", "")
    talk = await _talk(site, found.case.id) if found.case.handoff else None
    resolved = None
    if found.case.status == "resolved" and found.case.resolved_at:
        who = found.resolved_by or found.case.acknowledged_by or "?"
        resolved = words("staff.console.case.resolved", who=who, time=words.time(found.case.resolved_at))
    return site.render(
        request,
        "case.html",
        staff=staff,
        case=case_view(found.case, words, site.console.clock.now()),
        outcome=file_outcome(found, words),
        resolved=resolved,
        history=[entry_view(e, words) for e in found.log],
        outcomes=[(o, words.label("staff.outcome", o)) for o in OUTCOMES],
        done=words(f"staff.console.done.{done}") if done in DONE else None,
        talk=talk,
        poll_s=site.console.config.poll_s,
    )


async def _conversation(request: Request, site: Site, staff: Staff, form: dict[str, str]) -> Response:
    """The messages of a handoff, for the case page to ask for every few seconds (htmx)."""
    case_id = request.path_params["case_id"]
    found = await site.console.desk.cases.get(case_id) if CASE_ID.fullmatch(case_id) else None
    if found is None or not found.handoff:
        return site.error(request, 404, "staff.console.error.not_found", staff)
    return site.render(request, "_talk.html", talk=await _talk(site, case_id))


async def _talk(site: Site, case_id: str) -> list[object]:
    return [message_view(m, site.words) for m in await site.console.desk.messages(case_id)]


async def _act(request: Request, site: Site, staff: Staff, form: dict[str, str]) -> Response:
    case_id, action = request.path_params["case_id"], request.path_params["action"]
    if not CASE_ID.fullmatch(case_id):
        return site.error(request, 404, "staff.console.error.not_found", staff)
    desk, work, audit, now = site.console.desk, site.console.work, site.console.audit, site.console.clock.now()
    if action == "acknowledge":
        before = await work.acknowledge(case_id, staff.email, "console")
        done = {"open": "acknowledged", "acknowledged": "already_acknowledged", "resolved": "already_resolved"}
    elif action == "resolve":
        outcome = form.get("outcome", "")
        if outcome not in OUTCOMES:
            return site.error(request, 400, "staff.console.error.bad_request", staff)
        before, told = await work.resolve(case_id, staff.email, "console", outcome)
        finished = "resolved_told" if told else "resolved"
        done = {"open": finished, "acknowledged": finished, "resolved": "already_resolved"}
    elif action == "reply":
        if await desk.cases.get(case_id) is None:
            return site.error(request, 404, "staff.console.error.not_found", staff)
        before = await work.reply(case_id, staff.email, form.get("reply", ""))
        done = {"sent": "sent", "failed": "not_sent", "closed": "closed", "empty": "reply_empty"}
    elif action == "note":
        text = form.get("note", "")
        before = await desk.note(case_id, staff.email, text, "console", now) if text.strip() else "empty"
        if before == "noted":
            await audit.record("case_note", {"case": case_id, "channel": "console"}, now)
        done = {"noted": "noted", "empty": "note_empty", "full": "note_full"}
    else:
        return site.error(request, 404, "staff.console.error.not_found", staff)
    if before == "missing":
        return site.error(request, 404, "staff.console.error.not_found", staff)
    return RedirectResponse(f"{base_of(request)}/cases/{case_id}?done={done[before]}", status_code=303)


# --- statistics (leads) -----------------------------------------------------------------------------------------------


async def _stats(request: Request, site: Site, staff: Staff, form: dict[str, str]) -> Response:
    stats = await statistics_for(site, weeks_asked(request))
    words = site.words
    weeks = [w.strftime("%m-%d") for w in stats.period.weeks]
    conversations = charts.columns(
        words("staff.console.stats.conversations"),
        weeks,
        [
            charts.Series("started", words("staff.console.stats.started"), tuple(map(float, stats.started))),
            charts.Series("finished", words("staff.console.stats.finished"), tuple(map(float, stats.finished))),
        ],
    )
    levels = charts.columns(
        words("staff.console.stats.levels"),
        weeks,
        [charts.Series(lv, words.label("staff.level", lv), tuple(map(float, n))) for lv, n in stats.by_level],
        stacked=True,
    )
    signs = [(words.sign(flag), float(n)) for flag, n in stats.interrupts]
    answers = [(words.label("staff.answer", a), float(n)) for a, n in stats.answers]
    ack = charts.columns(
        words("staff.console.stats.ack"),
        weeks,
        [charts.Series("ack", words("staff.console.stats.ack"), stats.ack_minutes)],
    )
    return site.render(
        request,
        "stats.html",
        staff=staff,
        stats=stats,
        weeks=weeks,
        week_choices=WEEK_CHOICES,
        zone=str(site.words.zone.key),
        signs=signs,
        answers=answers,
        charts={
            "conversations": Markup(conversations),
            "levels": Markup(levels),
            "interrupts": Markup(charts.rows(words("staff.console.stats.interrupts"), signs, "interrupt")),
            "checkins": Markup(charts.rows(words("staff.console.stats.checkins"), answers, "answer")),
            "ack": Markup(ack),
        },
    )


async def _stats_csv(request: Request, site: Site, staff: Staff, form: dict[str, str]) -> Response:
    stats = await statistics_for(site, weeks_asked(request))
    name = f"kneebot-statistics-{stats.period.weeks[0].isoformat()}-{len(stats.period.weeks)}w.csv"
    return Response(
        to_csv(stats),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def weeks_asked(request: Request) -> int:
    asked = request.query_params.get("weeks", "12")
    return int(asked) if asked.isdigit() and int(asked) in WEEK_CHOICES else 12


async def statistics_for(site: Site, weeks: int) -> Statistics:
    """Reads the audit stream back from its newest entry to the period's start (with an hour's slack: entries are
    stamped by several processes' clocks)."""
    period = Period.ending(site.console.clock.now(), weeks, site.words.zone)
    tally, stop_before = Tally(period), period.since.timestamp() - 3600
    async for entry in site.console.audit.newest_first():
        at = entry_time(entry)
        if at is not None and at.timestamp() < stop_before:
            break
        tally.add(entry)
    return tally.result()


cases = guarded(_cases)
rows = guarded(_rows)
case = guarded(_case)
conversation = guarded(_conversation)
act = guarded(_act)
signout = guarded(_signout)
stats = guarded(_stats, lead=True)
stats_csv = guarded(_stats_csv, lead=True)
