"""The staff console over HTTP, against the real server and a real redis-server: sessions, CSRF, lockout, roles,
case actions recorded in the case and the audit stream, statistics, and nothing identifying in the logs."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Any

import argon2
import httpx
import pytest
import redis.asyncio
from argon2 import PasswordHasher

from bot.app.server import create_app
from bot.console.passwords import PARAMETERS, Passwords
from bot.storage.accounts import AccountStore
from bot.storage.audit import AuditLog
from bot.storage.cases import CaseStore
from bot.storage.casework import CaseDesk
from tests.integration.conftest import settings_for
from tests.integration.console_server import (
    CONSOLE_SECRET,
    ID_SECRET,
    LEAD,
    PASSWORD,
    RED_FLAG_SMS,
    STAFF,
    START,
    ConsoleStack,
    form_token,
    serve_console,
    sign_in,
)
from tests.integration.fakes.serve import ServedApp

PHONE = "+12125550144"


@pytest.fixture(scope="module")
def served(redis_server: Any) -> Iterator[ConsoleStack]:
    redis_server.start()
    with serve_console(redis_server.url) as stack:
        yield stack


@pytest.fixture
def stack(served: ConsoleStack, redis_server: Any) -> Iterator[ConsoleStack]:
    redis_server.start()
    redis_server.flushall()
    served.clock.current = START  # tests move it
    served.add_account(LEAD, "lead")
    served.add_account(STAFF, "staff")
    yield served
    served.close_clients()


def open_case(stack: ConsoleStack, phone: str = PHONE) -> str:
    """A red-flag SMS through the real webhook; the id of the case it opened."""
    before = {c.id for c in stack.cases()}
    stack.sms(RED_FLAG_SMS, phone)
    [case_id] = {c.id for c in stack.cases()} - before
    return case_id


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie header by cookie name, whole (value and attributes)."""
    found = {}
    for header in response.headers.get_list("set-cookie"):
        found[header.split("=", 1)[0]] = header
    return found


# --- signed out -----------------------------------------------------------------------------------------------------


def test_nothing_is_reachable_signed_out(stack: ConsoleStack) -> None:
    case_id = open_case(stack)
    with stack.client() as client:
        for path in ("/", "/cases", f"/cases/{case_id}", "/stats", "/stats.csv"):
            response = client.get(path, follow_redirects=True)
            assert response.url.path == "/staff/signin", path
            assert case_id not in response.text and "Short of breath" not in response.text
        live = client.get("/cases/rows", headers={"HX-Request": "true"})
        assert (live.status_code, live.headers["hx-redirect"]) == (401, "/staff/signin")
        for action in ("acknowledge", "resolve", "note"):
            assert client.post(f"/cases/{case_id}/{action}", data={"outcome": "reached"}).status_code == 403
        assert client.post("/signout").status_code == 403
        assert client.get("/static/htmx.min.js").status_code == 200
    assert stack.case(case_id).status == "open"  # type: ignore[union-attr]


def test_a_forged_session_cookie_signs_no_one_in(stack: ConsoleStack) -> None:
    value = stack.signed_in(LEAD).cookies["kneebot-staff"]
    client = stack.client()
    payload, stamp, signature = value.split(".")
    client.cookies.set("kneebot-staff", f"{payload}.{stamp}.{signature[:-2]}xx", domain="127.0.0.1", path="/staff")
    assert client.get("/cases").status_code == 303
    client.cookies.set("kneebot-staff", "not-even-signed", domain="127.0.0.1", path="/staff")
    assert client.get("/cases").status_code == 303


# --- sessions and cookies -------------------------------------------------------------------------------------------


def test_signing_in_makes_a_new_session_id_and_a_planted_one_is_ignored(stack: ConsoleStack) -> None:
    with stack.client() as client:
        client.cookies.set("kneebot-staff", "planted-by-someone-else", domain="127.0.0.1", path="/staff")
        first = sign_in(client, STAFF, PASSWORD)
        assert first.status_code == 303
        issued = client.cookies["kneebot-staff"]
        assert issued != "planted-by-someone-else"
        before = client.get("/cases")
        assert before.status_code == 200
        again = sign_in(client, STAFF, PASSWORD)  # signing in again: another id, and the first one ends
        assert again.status_code == 303 and client.cookies["kneebot-staff"] != issued
    with stack.client() as replay:
        replay.cookies.set("kneebot-staff", issued, domain="127.0.0.1", path="/staff")
        assert replay.get("/cases").status_code == 303


def test_session_cookie_is_httponly_samesite_and_scoped_to_the_console_over_http(stack: ConsoleStack) -> None:
    with stack.client() as client:
        response = sign_in(client, STAFF, PASSWORD)
    cookie = SimpleCookie(set_cookies(response)["kneebot-staff"])["kneebot-staff"]
    assert cookie["httponly"] and cookie["samesite"].lower() == "lax" and cookie["path"] == "/staff"
    assert not cookie["secure"]  # PUBLIC_BASE_URL is http here
    assert int(cookie["max-age"]) == 12 * 3600

    async def session_ttls(client: redis.asyncio.Redis) -> list[int]:
        return [await client.pttl(key) async for key in client.scan_iter("kneebot:v1:console-session:*")]

    [ttl_ms] = stack.run(session_ttls)  # the server-side record expires with the cookie
    assert 12 * 3600 * 1000 - 60_000 < ttl_ms <= 12 * 3600 * 1000


def test_behind_https_the_cookies_are_secure_and_host_only(redis_server: Any) -> None:
    redis_server.flushall()
    with serve_console(redis_server.url, public_base_url="https://kneebot.example.org") as stack:
        stack.add_account(STAFF, "staff")
        with stack.client() as client:
            form = client.get("/signin")
            signin_cookie = set_cookies(form)["__Host-kneebot-signin"]
            # A browser would send the Secure cookie back over https only; here it is sent by hand.
            client.cookies.set("__Host-kneebot-signin", SimpleCookie(signin_cookie)["__Host-kneebot-signin"].value)
            response = client.post(
                "/signin", data={"csrf": form_token(form.text), "email": STAFF, "password": PASSWORD}
            )
    assert response.status_code == 303
    for header in (signin_cookie, set_cookies(response)["__Host-kneebot-staff"]):
        name = header.split("=", 1)[0]
        cookie = SimpleCookie(header)[name]
        assert cookie["secure"] and cookie["httponly"] and cookie["samesite"].lower() == "lax"
        assert cookie["path"] == "/" and not cookie["domain"]


def test_sign_out_and_removing_the_account_end_the_session(stack: ConsoleStack) -> None:
    client = stack.signed_in(STAFF)
    cookie = client.cookies["kneebot-staff"]
    token = form_token(client.get("/cases").text)
    response = client.post("/signout", data={"csrf": token})
    assert response.status_code == 303 and response.headers["location"] == "/staff/signin?out=1"
    with stack.client() as replay:
        replay.cookies.set("kneebot-staff", cookie, domain="127.0.0.1", path="/staff")
        assert replay.get("/cases").status_code == 303

    client = stack.signed_in(LEAD)
    ended = stack.run(lambda c: AccountStore(c, ID_SECRET.encode()).remove(LEAD))
    assert ended == 1
    assert client.get("/cases").status_code == 303
    assert sign_in(stack.client(), LEAD, PASSWORD).status_code == 401


# --- passwords and lockout ------------------------------------------------------------------------------------------


def test_passwords_are_argon2id_at_the_recommended_parameters_and_old_hashes_are_redone(stack: ConsoleStack) -> None:
    stored = stack.run(lambda c: AccountStore(c, ID_SECRET.encode()).find(STAFF))
    assert stored is not None and stored.password_hash.startswith("$argon2id$")
    assert argon2.extract_parameters(stored.password_hash) == PARAMETERS
    assert (PARAMETERS.time_cost, PARAMETERS.memory_cost, PARAMETERS.parallelism) == (3, 65536, 4)

    cheap = Passwords(PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
    stack.add_account("old@clinic.example", "staff", passwords=cheap)
    old = stack.run(lambda c: AccountStore(c, ID_SECRET.encode()).find("old@clinic.example"))
    assert old is not None and argon2.extract_parameters(old.password_hash).memory_cost == 8192
    assert sign_in(stack.client(), "old@clinic.example", PASSWORD).status_code == 303
    renewed = stack.run(lambda c: AccountStore(c, ID_SECRET.encode()).find("old@clinic.example"))
    assert renewed is not None and argon2.extract_parameters(renewed.password_hash) == PARAMETERS
    assert sign_in(stack.client(), "old@clinic.example", PASSWORD).status_code == 303


def test_five_wrong_passwords_lock_the_account_with_a_clear_message(stack: ConsoleStack) -> None:
    client = stack.client()
    for attempt in range(1, 5):
        refused = sign_in(client, STAFF, f"wrong password {attempt}")
        assert refused.status_code == 401 and "do not match an account" in refused.text
    locked = sign_in(client, STAFF, "wrong password 5")
    assert locked.status_code == 429
    assert re.search(r"Too many failed sign-ins\. Try again after \d\d:\d\d\.", locked.text)
    right = sign_in(client, STAFF, PASSWORD)  # even the right password waits for the lock to lift
    assert right.status_code == 429 and "kneebot-staff" not in set_cookies(right)
    assert sign_in(client, LEAD, PASSWORD).status_code == 303  # another account from the same address is not locked
    # An unknown email is counted the same way, so the answers do not tell which accounts exist.
    for attempt in range(4):
        assert sign_in(client, "nobody@clinic.example", f"guess {attempt}").status_code == 401
    assert sign_in(client, "nobody@clinic.example", "guess 5").status_code == 429


def test_many_failures_from_one_address_lock_that_address(stack: ConsoleStack) -> None:
    client = stack.client()
    for n in range(19):
        assert sign_in(client, f"guess{n}@clinic.example", "not the password").status_code == 401
    assert sign_in(client, "guess19@clinic.example", "not the password").status_code == 429
    assert sign_in(client, LEAD, PASSWORD).status_code == 429


def test_the_sign_in_form_needs_its_own_token(stack: ConsoleStack) -> None:
    with stack.client() as client:
        response = client.post("/signin", data={"csrf": "made-up", "email": LEAD, "password": PASSWORD})
        assert response.status_code == 403 and "had expired" in response.text
        token = form_token(client.get("/signin").text)
        forged = client.post("/signin", data={"csrf": token[:-1] + "x", "email": LEAD, "password": PASSWORD})
        assert forged.status_code == 403 and "kneebot-staff" not in set_cookies(forged)


# --- CSRF and roles -------------------------------------------------------------------------------------------------


def test_every_post_needs_the_sessions_csrf_token(stack: ConsoleStack) -> None:
    case_id = open_case(stack)
    staff, other = stack.signed_in(STAFF), stack.signed_in(LEAD)
    own, others = form_token(staff.get("/cases").text), form_token(other.get("/cases").text)
    posts = [
        (f"/cases/{case_id}/acknowledge", {}),
        (f"/cases/{case_id}/note", {"note": "called twice"}),
        (f"/cases/{case_id}/resolve", {"outcome": "reached"}),
        ("/signout", {}),
    ]
    for path, data in posts:
        for token in (None, "", others, own[:-1]):
            form = data if token is None else {**data, "csrf": token}
            response = staff.post(path, data=form)
            assert response.status_code == 403 and "did not come from the console" in response.text, (path, token)
    case = stack.case(case_id)
    assert case is not None and case.status == "open"
    assert stack.run(lambda c: CaseDesk(CaseStore(c)).file(case_id)).log == ()  # type: ignore[union-attr]
    assert staff.get("/cases").status_code == 200  # still signed in
    by_header = staff.post(f"/cases/{case_id}/acknowledge", headers={"X-CSRF-Token": own}, data={})
    assert by_header.status_code == 303


def test_staff_are_refused_the_leads_pages(stack: ConsoleStack) -> None:
    staff, lead = stack.signed_in(STAFF), stack.signed_in(LEAD)
    for path in ("/stats", "/stats.csv", "/stats?weeks=4"):
        refused = staff.get(path)
        assert refused.status_code == 403 and "for clinic leads" in refused.text
        assert lead.get(path).status_code == 200
    assert "/staff/stats" not in staff.get("/cases").text
    assert "/staff/stats" in lead.get("/cases").text


def test_pages_carry_security_headers(stack: ConsoleStack) -> None:
    lead = stack.signed_in(LEAD)
    for path in ("/signin", "/cases", "/stats"):
        headers = lead.get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store"
        assert headers["x-content-type-options"] == "nosniff"


# --- cases ----------------------------------------------------------------------------------------------------------


def test_the_open_list_and_a_case_read_in_plain_words_and_clinic_time(stack: ConsoleStack) -> None:
    lead = stack.signed_in(LEAD)
    assert "No open cases." in lead.get("/cases").text
    first = open_case(stack, "+12125550101")
    stack.clock.advance(timedelta(minutes=7))
    second = open_case(stack, "+12125550102")
    stack.clock.advance(timedelta(minutes=5))
    page = lead.get("/cases/rows").text
    assert page.index(first) < page.index(second)  # oldest first
    assert "2 open, oldest first." in page
    assert "2026-11-05 10:00" in page and "12 min" in page  # 15:00 UTC is 10:00 in America/New_York
    assert "Short of breath; One calf or leg swollen" in page and "Emergency sign in a message" in page
    detail = lead.get(f"/cases/{first}").text
    assert "<li>Short of breath</li>" in detail and "Waiting" in detail
    assert "No contact details" in detail and PHONE not in detail


def test_acknowledge_resolve_and_note_are_kept_in_the_case_and_audited_without_text(stack: ConsoleStack) -> None:
    case_id = open_case(stack)
    staff = stack.signed_in(STAFF)
    token = form_token(staff.get(f"/cases/{case_id}").text)
    note = "Left a voicemail <b>twice</b>; will try again at noon."

    stack.clock.advance(timedelta(minutes=4))
    done = staff.post(f"/cases/{case_id}/acknowledge", data={"csrf": token})
    assert done.headers["location"] == f"/staff/cases/{case_id}?done=acknowledged"
    again = staff.post(f"/cases/{case_id}/acknowledge", data={"csrf": token})
    assert again.headers["location"].endswith("done=already_acknowledged")
    assert staff.post(f"/cases/{case_id}/note", data={"csrf": token, "note": note}).status_code == 303
    assert (
        staff.post(f"/cases/{case_id}/note", data={"csrf": token, "note": "   "})
        .headers["location"]
        .endswith("done=note_empty")
    )
    assert staff.post(f"/cases/{case_id}/resolve", data={"csrf": token, "outcome": "invented"}).status_code == 400
    stack.clock.advance(timedelta(minutes=2))
    resolved = staff.post(f"/cases/{case_id}/resolve", data={"csrf": token, "outcome": "no_answer"})
    assert resolved.headers["location"].endswith("done=resolved")

    case = stack.case(case_id)
    assert case is not None and (case.status, case.acknowledged_by) == ("resolved", STAFF)
    found = stack.run(lambda c: CaseDesk(CaseStore(c)).file(case_id))
    assert found is not None and (found.outcome, found.resolved_by) == ("no_answer", STAFF)
    assert [(e.kind, e.by, e.via, e.outcome, e.text) for e in found.log] == [
        ("acknowledged", STAFF, "console", None, None),
        ("note", STAFF, "console", None, note),
        ("resolved", STAFF, "console", "no_answer", None),
    ]
    page = staff.get(f"/cases/{case_id}?done=resolved").text
    assert "Case resolved." in page and "No answer" in page and f"Resolved by {STAFF}" in page
    assert "Left a voicemail &lt;b&gt;twice&lt;/b&gt;" in page  # escaped, never markup
    assert case_id not in staff.get("/cases/rows").text

    console = [e for e in stack.audit() if e.get("channel") == "console"]
    assert [(e["kind"], e["case"]) for e in console] == [
        ("escalation_acknowledged", case_id),
        ("case_note", case_id),
        ("escalation_resolved", case_id),
    ]
    assert console[-1]["outcome"] == "no_answer"
    for entry in stack.audit():
        assert STAFF not in str(entry) and "voicemail" not in str(entry) and PHONE not in str(entry)


def test_an_unknown_case_is_404(stack: ConsoleStack) -> None:
    lead = stack.signed_in(LEAD)
    token = form_token(lead.get("/cases").text)
    assert lead.get("/cases/KAAAAAA").status_code == 404
    assert lead.get("/cases/not-a-case").status_code == 404
    assert lead.post("/cases/KAAAAAA/acknowledge", data={"csrf": token}).status_code == 404
    assert lead.post("/cases/KAAAAAA/frobnicate", data={"csrf": token}).status_code == 404


# --- statistics -----------------------------------------------------------------------------------------------------


def seed_audit(stack: ConsoleStack) -> None:
    """Two weeks of a small clinic, as the engine and the staff side write them. The entry from before the period
    is written first, as it would have been: the reader stops at the first entry older than the period."""

    async def write(client: redis.asyncio.Redis) -> None:
        audit = AuditLog(client)
        now = stack.clock.now()
        last_week = now - timedelta(days=7)
        await audit.record("started", {"flow": "intake"}, now - timedelta(weeks=20))  # before the period
        for at in (last_week, last_week, now, now, now):
            await audit.record("started", {"flow": "intake"}, at)
        for at, level in ((last_week, "soon"), (now, "emergency"), (now, "self_care")):
            await audit.record("assessment", {"level": level, "rules": "x", "flow": "intake"}, at)
        await audit.record("interrupt", {"interrupt": "emergency", "flags": "short_of_breath,calf_clot_signs"}, now)
        await audit.record("interrupt", {"interrupt": "emergency", "flags": "short_of_breath"}, now)
        for answer in ("better", "better", "worse"):
            await audit.record("checkin_answered", {"answer": answer, "seq": "1", "level": "soon"}, now)
        await audit.record("escalation_opened", {"case": "KAAAAAA", "level": "emergency"}, last_week)
        await audit.record("escalation_acknowledged", {"case": "KAAAAAA"}, last_week + timedelta(minutes=6))
        await audit.record("escalation_opened", {"case": "KBBBBBB", "level": "urgent"}, now)
        await audit.record("escalation_resolved", {"case": "KBBBBBB"}, now + timedelta(minutes=10))
        await audit.record("escalation_opened", {"case": "KCCCCCC", "level": "urgent"}, now)

    stack.run(write)


def test_statistics_come_from_the_audit_stream_and_export_as_csv(stack: ConsoleStack) -> None:
    seed_audit(stack)
    lead = stack.signed_in(LEAD)
    exported = lead.get("/stats.csv?weeks=4")
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["content-disposition"].startswith('attachment; filename="kneebot-statistics-')
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    weekly = {(r["figure"], r["week"], r["key"]): r["value"] for r in rows}
    assert [r["week"] for r in rows if r["figure"] == "conversations_started"] == [
        "2026-10-12", "2026-10-19", "2026-10-26", "2026-11-02"
    ]  # fmt: skip
    assert [r["value"] for r in rows if r["figure"] == "conversations_started"] == ["0", "0", "2", "3"]
    assert [r["value"] for r in rows if r["figure"] == "conversations_finished"] == ["0", "0", "1", "2"]
    assert weekly[("assessments", "2026-11-02", "emergency")] == "1"
    assert weekly[("assessments", "2026-10-26", "soon")] == "1"
    assert weekly[("red_flag_interrupts", "2026-10-12", "short_of_breath")] == "2"
    assert weekly[("red_flag_interrupts", "2026-10-12", "calf_clot_signs")] == "1"
    assert [(r["key"], r["value"]) for r in rows if r["figure"] == "checkin_answers"] == [
        ("better", "2"), ("same", "0"), ("worse", "1")
    ]  # fmt: skip
    assert weekly[("median_minutes_to_acknowledge", "2026-10-26", "")] == "6.0"
    assert weekly[("median_minutes_to_acknowledge", "2026-10-12", "all")] == "8.0"
    assert (weekly[("cases_acknowledged", "2026-10-12", "")], weekly[("cases_not_acknowledged", "2026-10-12", "")]) == (
        "2",
        "1",
    )

    page = lead.get("/stats?weeks=4").text
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 5
    assert "Short of breath" in page and "About the same" in page
    assert "Median time to acknowledge: 8 minutes over 2 cases; 1 not acknowledged." in page
    assert "60% of conversations started reached an assessment." in page


# --- logs -----------------------------------------------------------------------------------------------------------


def test_no_identifier_or_text_from_the_console_reaches_a_log_line(
    stack: ConsoleStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    case_id = open_case(stack)
    note = "Spoke to her daughter, ambulance on its way"
    client = stack.client()
    assert sign_in(client, STAFF, "a wrong password here").status_code == 401
    assert sign_in(client, STAFF, PASSWORD).status_code == 303
    session_cookie = client.cookies["kneebot-staff"]
    token = form_token(client.get(f"/cases/{case_id}").text)
    client.post(f"/cases/{case_id}/acknowledge", data={"csrf": "forged"})
    client.post(f"/cases/{case_id}/acknowledge", data={"csrf": token})
    client.post(f"/cases/{case_id}/note", data={"csrf": token, "note": note})
    client.post(f"/cases/{case_id}/resolve", data={"csrf": token, "outcome": "reached"})
    client.get("/stats")
    lead = stack.signed_in(LEAD)
    lead.get("/stats.csv")
    client.post("/signout", data={"csrf": token})
    for n in range(5):
        sign_in(stack.client(), LEAD, f"wrong {n}")

    secret_things = [STAFF, LEAD, PASSWORD, case_id, note, "ambulance", PHONE, session_cookie, token, "127.0.0.1"]
    # httpx logs the URLs this test's own client requests; the server's HTTP clients are set to WARNING in production.
    lines = [
        " ".join([record.name, record.getMessage(), record.exc_text or ""])
        for record in caplog.records
        if not record.name.startswith(("httpx", "httpcore"))
    ]
    assert any(line.startswith("kneebot.console") for line in lines)  # the console did log, just nothing of these
    for line in lines:
        for thing in secret_things:
            assert thing not in line, (thing, line)


# --- without a secret -----------------------------------------------------------------------------------------------


def test_without_console_secret_every_page_is_refused(redis_server: Any) -> None:
    redis_server.flushall()
    with serve_console(redis_server.url, console_secret=None) as stack, stack.client() as client:
        for path in ("/signin", "/cases", "/stats"):
            response = client.get(path)
            assert response.status_code == 503 and "CONSOLE_SECRET" in response.text
        assert client.post("/signin", data={"email": LEAD, "password": PASSWORD}).status_code == 503


# --- the command line -----------------------------------------------------------------------------------------------


def kneebot(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "CONSOLE_", "TWILIO_"))}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True, timeout=60, env=environment
    )


def one_line_exit_2(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode == 2 and result.stdout == "", result
    assert len(result.stderr.strip().splitlines()) == 1 and words in result.stderr and "Traceback" not in result.stderr


def test_staff_add_list_and_remove(redis_url: str) -> None:
    env = {"REDIS_URL": redis_url, "ID_HASH_SECRET": ID_SECRET}
    added = kneebot(
        "staff", "add", "Ana@Clinic.Example", "--role", "lead", "--password-stdin", stdin=PASSWORD + "\n", **env
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout) == {
        "ok": True, "email": "ana@clinic.example", "role": "lead",
        "note": "set CONSOLE_SECRET before `kneebot serve`: the console refuses to start without it",
    }  # fmt: skip
    one_line_exit_2(kneebot("staff", "add", "ana@clinic.example", "--role", "staff", "--password-stdin",
                            stdin=PASSWORD, **env), "exists")  # fmt: skip
    one_line_exit_2(kneebot("staff", "add", "bo@clinic.example", "--role", "staff", "--password-stdin",
                            stdin="short\n", **env), "at least 12 characters")  # fmt: skip
    one_line_exit_2(kneebot("staff", "add", "not-an-email", "--role", "staff", "--password-stdin",
                            stdin=PASSWORD, **env), "not an email address")  # fmt: skip
    one_line_exit_2(kneebot("staff", "add", "bo@clinic.example", "--role", "staff", **env), "--password-stdin")
    assert kneebot("staff", "add", "bo@clinic.example", "--role", "boss", **env).returncode == 2
    replaced = kneebot("staff", "add", "ana@clinic.example", "--role", "staff", "--replace", "--password-stdin",
                       stdin="another long passphrase", CONSOLE_SECRET=CONSOLE_SECRET, **env)  # fmt: skip
    assert replaced.returncode == 0 and "note" not in json.loads(replaced.stdout)

    listed = [json.loads(line) for line in kneebot("staff", "list", **env).stdout.splitlines()]
    assert [(a["email"], a["role"]) for a in listed] == [("ana@clinic.example", "staff")]
    assert "Ana" not in str(listed) and PASSWORD not in str(listed)

    async def stored_keys(client: redis.asyncio.Redis) -> list[str]:
        return [k.decode() async for k in client.scan_iter("*")]

    async def run(work: Any) -> Any:
        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            return await work(client)
        finally:
            await client.aclose()

    assert not any("ana" in key or "clinic" in key for key in asyncio.run(run(stored_keys)))
    removed = kneebot("staff", "remove", "ANA@clinic.example", **env)
    assert json.loads(removed.stdout) == {"ok": True, "removed": "ana@clinic.example", "sessions_ended": 0}
    one_line_exit_2(kneebot("staff", "remove", "ana@clinic.example", **env), "no account")
    assert kneebot("staff", "list", **env).stdout == ""
    one_line_exit_2(kneebot("staff", "list"), "REDIS_URL")


def test_serve_refuses_to_start_with_accounts_and_no_console_secret_or_a_weak_one(redis_url: str) -> None:
    sms = {
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": "x",
        "TWILIO_FROM_NUMBER": "+15005550006",
        "PUBLIC_BASE_URL": "https://kneebot.example.org",
        "REDIS_URL": redis_url,
        "ID_HASH_SECRET": ID_SECRET,
    }
    added = kneebot("staff", "add", "ana@clinic.example", "--role", "lead", "--password-stdin", stdin=PASSWORD, **sms)
    assert added.returncode == 0
    one_line_exit_2(kneebot("serve", "--port", "1", **sms), "CONSOLE_SECRET must be set")
    one_line_exit_2(kneebot("serve", "--port", "1", CONSOLE_SECRET="aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", **sms),
                    "CONSOLE_SECRET")  # fmt: skip
    one_line_exit_2(kneebot("serve", "--port", "1", CONSOLE_SECRET="short", **sms), "too weak")
    one_line_exit_2(kneebot("serve", "--port", "1", CLINIC_TIME_ZONE="Mars/Olympus", **sms), "CLINIC_TIME_ZONE")


def test_without_redis_the_console_says_it_needs_it() -> None:
    settings = settings_for(twilio_api="http://127.0.0.1:9", console_secret=CONSOLE_SECRET)
    with ServedApp(create_app(settings)) as served:
        response = httpx.get(served.url + "/staff/signin", timeout=10)
    assert response.status_code == 503 and "REDIS_URL" in response.text
