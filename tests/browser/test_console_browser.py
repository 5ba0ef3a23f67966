"""The staff console in a real headless Chromium: sign-in and lockout, the live list, acknowledge and resolve, the
leads' charts and export, a forged form, roles, and nothing reachable signed out. Each saves a picture of its page.

Playwright never downloads a browser here: it launches Debian's /usr/bin/chromium (`.ci/run` installs it). Without
it the tests are skipped, except in CI, where a missing browser is a failure, as a missing redis-server is. (No
conftest.py in this folder: a second module named `conftest` would shadow tests/conftest.py for `from conftest
import ...`.)
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio
from clinical import VIGNETTES as CLINICAL_VIGNETTES
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from bot.storage.audit import AuditLog
from tests.integration.conftest import wait_for
from tests.integration.console_server import (
    LEAD,
    PASSWORD,
    RED_FLAG_SMS,
    STAFF,
    STAFF_CHAT,
    START,
    ConsoleStack,
    serve_console,
)
from tests.integration.fakes.serve import ServedApp
from tests.integration.fakes.telegram_api import callback_update, message_update

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("KNEEBOT_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIGNETTES = {c["id"]: c["facts"] for c in CLINICAL_VIGNETTES}
WAIT_MS = 10_000  # for what the page does by itself (the live list asks every 2 s)


def _unavailable(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI needs the browser tests' chromium: {why}", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if executable is None:
        _unavailable(f"no {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"no playwright ({exc}): pip install -e '.[test]'")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests save a picture of each page: KNEEBOT_SCREENSHOTS (docs/console for the README's), or a
    temporary folder, so that running the suite never changes a tracked file."""
    chosen = os.environ.get("KNEEBOT_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def served(redis_server: Any) -> Iterator[ConsoleStack]:
    redis_server.start()
    with serve_console(redis_server.url) as stack:
        yield stack


@pytest.fixture
def stack(served: ConsoleStack, redis_server: Any) -> Iterator[ConsoleStack]:
    redis_server.start()
    redis_server.flushall()
    served.clock.current = START
    served.add_account(LEAD, "lead")
    served.add_account(STAFF, "staff")
    yield served
    served.close_clients()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser profile (no cookies) per test, failing on any script error the console's pages raise."""
    context = browser.new_context(viewport={"width": 1180, "height": 760}, locale="en-US")
    errors: list[str] = []
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == []


def sign_in(page: Any, stack: ConsoleStack, email: str, password: str = PASSWORD) -> None:
    page.goto(stack.console + "/signin")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("form[action$='/signin'] button[type=submit]")


def shot(page: Any, screenshots: Path, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)


def open_case(stack: ConsoleStack, phone: str) -> str:
    before = {c.id for c in stack.cases()}
    stack.sms(RED_FLAG_SMS, phone)
    [case_id] = {c.id for c in stack.cases()} - before
    return case_id


def test_sign_in_refuses_a_wrong_password_then_locks_the_account(
    page: Any, stack: ConsoleStack, screenshots: Path
) -> None:
    sign_in(page, stack, STAFF, "not my password")
    assert page.locator("[role=alert]").inner_text() == "That email and password do not match an account."
    assert page.input_value("#email") == STAFF and page.input_value("#password") == ""
    shot(page, screenshots, "signin")
    for attempt in range(4):
        sign_in(page, stack, STAFF, f"still not my password {attempt}")
    alert = page.locator("[role=alert]").inner_text()
    assert alert.startswith("Too many failed sign-ins. Try again after ")
    sign_in(page, stack, STAFF)  # the right password, while locked
    assert (
        page.url.endswith("/staff/signin") and "Too many failed sign-ins" in page.locator("[role=alert]").inner_text()
    )
    assert not [c for c in page.context.cookies() if c["name"] == "kneebot-staff"]
    shot(page, screenshots, "signin-locked")


def test_the_open_list_updates_live_when_a_webhook_opens_a_case(
    page: Any, stack: ConsoleStack, screenshots: Path
) -> None:
    sign_in(page, stack, STAFF)
    page.wait_for_url("**/staff/cases")
    assert page.locator(".count").inner_text().startswith("No open cases.")
    page.evaluate("window.stillTheSamePage = true")

    first = open_case(stack, "+12125550101")  # the real SMS webhook, red flags and all
    row = page.locator(f"#case-{first}")
    row.wait_for()
    assert "Short of breath; One calf or leg swollen" in row.inner_text()
    assert "Emergency" in row.locator(".level").inner_text()
    stack.clock.advance(timedelta(minutes=6))
    second = open_case(stack, "+12125550102")
    page.locator(f"#case-{second}").wait_for()
    assert page.evaluate("window.stillTheSamePage") is True  # updated in place, not reloaded
    ids = page.locator("table.cases tbody tr td:first-child").all_inner_texts()
    assert ids == [first, second]  # oldest first
    page.wait_for_function("document.title.startsWith('(2)')")
    stack.clock.advance(timedelta(minutes=3))
    page.locator(f"#case-{first} td:nth-child(3)", has_text="9 min").wait_for()
    shot(page, screenshots, "cases")


def test_acknowledge_and_resolve_from_the_console(page: Any, stack: ConsoleStack, screenshots: Path) -> None:
    # A whole conversation by SMS that ends "be seen today": the case carries the answers.
    outcome = stack.sms_persona(VIGNETTES["KB-U01"], "+12125550103")
    assert "today" in outcome[0]
    [case_id] = [c.id for c in stack.cases()]
    assert stack.page() == 1  # the staff chat's card, with its buttons
    [card] = stack.telegram.sent(STAFF_CHAT)
    assert [b["callback_data"] for row in card["reply_markup"]["inline_keyboard"] for b in row] == [
        f"case:ack:{case_id}",
        f"case:resolve:{case_id}",
    ]
    sign_in(page, stack, STAFF)
    page.click(f"text={case_id}")
    page.wait_for_url(f"**/staff/cases/{case_id}")
    assert page.locator(".status").inner_text().startswith("Waiting")
    findings = page.locator(".findings").inner_text()
    assert "Reported: " in findings and "a clot before" in findings and "Age 52." in findings
    stack.clock.advance(timedelta(minutes=4))
    page.click("button:has-text('Acknowledge')")
    assert page.locator("[role=status]").inner_text() == "Case acknowledged."
    assert page.locator(".status").inner_text() == f"Acknowledged by {STAFF} at 10:04"
    [edit] = card_edits(stack)  # the same card in the staff chat, redrawn: who acknowledged, only Resolve left
    assert f"Acknowledged by {STAFF}." in edit["text"]
    assert [b["callback_data"] for row in edit["reply_markup"]["inline_keyboard"] for b in row] == [
        f"case:resolve:{case_id}"
    ]
    page.fill("#note", "Called back: she is on her way to the emergency department.")
    page.click("button:has-text('Add note')")
    assert page.locator("[role=status]").inner_text() == "Note added."
    assert "on her way" in page.locator(".history blockquote").inner_text()
    shot(page, screenshots, "case")

    page.select_option("#outcome", "reached")
    page.click("button:has-text('Resolve')")
    assert page.locator("[role=status]").inner_text() == "Case resolved."
    assert page.locator(".outcome").inner_text() == "Reached the person"
    assert page.locator("button:has-text('Acknowledge')").count() == 0
    edits = card_edits(stack)
    assert len(edits) == 2 and f"Resolved by {STAFF}." in edits[1]["text"] and not edits[1].get("reply_markup")
    case = stack.case(case_id)
    assert case is not None and (case.status, case.acknowledged_by) == ("resolved", STAFF)
    kinds = [(e["kind"], e.get("outcome")) for e in stack.audit() if e.get("channel") == "console"]
    assert kinds == [("escalation_acknowledged", None), ("case_note", None), ("escalation_resolved", "reached")]
    page.click("text=Back to open cases")
    assert page.locator(".count").inner_text().startswith("No open cases.")


def card_edits(stack: ConsoleStack) -> list[dict[str, Any]]:
    """The edits of staff chat cards the fake Telegram API took (each answered before the console's page loads)."""
    return [c.params for c in stack.telegram.calls_to("editMessageText") if c.params["chat_id"] == STAFF_CHAT]


def test_staff_talk_to_a_person_by_sms_and_on_telegram_and_their_answers_appear(
    page: Any, stack: ConsoleStack, screenshots: Path
) -> None:
    phone, chat = "+12125550106", 700106
    stack.sms("hi", phone)
    stack.sms("HUMAN", phone)
    stack.sms("yes", phone)
    assert stack.sms("My knee gave way on the stairs this morning", phone) == []
    [case] = stack.cases()
    sign_in(page, stack, STAFF)
    page.wait_for_url("**/staff/cases")
    page.click(f"text={case.id}")
    page.locator(".talk .from-person", has_text="gave way on the stairs").wait_for()

    page.fill("#reply", "Hello, this is Ben from the clinic. Can you put any weight on it now?")
    page.click("button:has-text('Send')")
    assert page.locator("[role=status]").inner_text() == "Reply sent."
    sent = [m.body for m in stack.twilio.messages if m.to == phone]
    assert sent[-1] == "Clinic team: Hello, this is Ben from the clinic. Can you put any weight on it now?"
    page.evaluate("window.stillTheSamePage = true")
    assert stack.sms("A little, with a stick. It is swollen behind the knee.", phone) == []
    page.locator(".talk .from-person", has_text="with a stick").wait_for()  # polled in, not reloaded
    assert page.evaluate("window.stillTheSamePage") is True
    assert page.locator(".talk .message").all_inner_texts()[1].startswith("10:00 nurse@clinic.example")
    shot(page, screenshots, "conversation")

    stack.tg(message_update(9001, chat, "/human"))
    wait_for(lambda: len(stack.telegram.sent(chat)) == 1)
    message_id = max(m for (c, m) in stack.telegram.messages if c == chat)
    stack.tg(callback_update(9002, chat, "_handoff:yes", message_id=message_id))
    telegram_case = next(c.id for c in stack.cases() if c.channel == "telegram")
    page.goto(f"{stack.console}/cases/{telegram_case}")
    page.fill("#reply", "Hello from the clinic: how can we help?")
    page.click("button:has-text('Send')")
    assert page.locator("[role=status]").inner_text() == "Reply sent."
    assert stack.telegram.sent(chat)[-1]["text"] == "Clinic team: Hello from the clinic: how can we help?"
    stack.tg(message_update(9003, chat, "Can I still go running?"))
    page.locator(".talk .from-person", has_text="still go running").wait_for()


def seed(stack: ConsoleStack) -> None:
    """Twelve weeks of a small clinic, oldest first, as the engine and the staff side write them."""

    async def write(client: redis.asyncio.Redis) -> None:
        audit = AuditLog(client)
        levels = ("self_care", "soon", "urgent", "emergency")
        for week in range(11, -1, -1):
            at = stack.clock.now() - timedelta(weeks=week, hours=2)
            for n in range(8 + week % 4):
                await audit.record("started", {"flow": "intake"}, at)
                if n % 4 != 3:
                    await audit.record("assessment", {"level": levels[(n + week) % 4], "flow": "intake"}, at)
            await audit.record("interrupt", {"flags": "short_of_breath" if week % 2 else "chest_pain"}, at)
            for answer in ("better", "better", "same", "worse")[: 1 + week % 4]:
                await audit.record("checkin_answered", {"answer": answer}, at)
            case = f"K{chr(65 + week) * 6}"
            await audit.record("escalation_opened", {"case": case}, at)
            await audit.record("escalation_acknowledged", {"case": case}, at + timedelta(minutes=3 + week))

    stack.run(write)


def test_the_leads_statistics_page_draws_its_charts_and_exports(
    page: Any, stack: ConsoleStack, screenshots: Path
) -> None:
    seed(stack)
    sign_in(page, stack, LEAD)
    page.click("nav >> text=Statistics")
    page.wait_for_url("**/staff/stats")
    charts = page.locator("svg.chart")
    assert charts.count() == 5
    for box in (charts.nth(i).bounding_box() for i in range(5)):
        assert box is not None and box["width"] > 300 and box["height"] > 100  # drawn, not collapsed
    levels = page.locator("#levels rect.bar title")
    assert levels.count() == 4 * 12  # every level, every week (zero-height bars included)
    assert page.locator("#interrupts text.label").all_text_contents() == ["Chest pain or pressure", "Short of breath"]
    assert page.locator("#checkins text.label").all_text_contents() == ["Better", "About the same", "Worse"]
    assert "Median time to acknowledge: 8 minutes over 12 cases; 0 not acknowledged." in page.inner_text("#acknowledge")
    shot(page, screenshots, "stats")

    with page.expect_download() as download:
        page.click("text=Download as CSV")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    started = [int(r["value"]) for r in rows if r["figure"] == "conversations_started"]
    assert started == [8 + week % 4 for week in range(11, -1, -1)]
    page.select_option("#weeks", "4")
    page.click("button:has-text('Show')")
    assert page.locator("#levels rect.bar title").count() == 4 * 4


def test_a_forged_form_from_another_page_is_rejected_for_its_csrf_token(
    page: Any, stack: ConsoleStack, screenshots: Path
) -> None:
    case_id = open_case(stack, "+12125550104")
    sign_in(page, stack, STAFF)
    page.wait_for_url("**/staff/cases")

    async def attacker(request: Request) -> HTMLResponse:
        # Another origin on the same site (same host, another port): the browser sends the console's cookies with
        # this form, so only the CSRF token can stop it.
        action = f"{stack.console}/cases/{case_id}/resolve"
        return HTMLResponse(
            f'<form id="f" method="post" action="{action}"><input name="csrf" value="guessed">'
            '<input name="outcome" value="duplicate"></form><script>document.getElementById("f").submit()</script>'
        )

    with ServedApp(Starlette(routes=[Route("/", attacker)])) as evil:
        page.goto(evil.url)
        page.wait_for_url(f"**/staff/cases/{case_id}/resolve")
    assert "This form had expired or did not come from the console." in page.inner_text("[role=alert]")
    case = stack.case(case_id)
    assert case is not None and case.status == "open"
    shot(page, screenshots, "forged-form")
    page.goto(stack.console + "/cases")  # and the session is still good
    assert page.locator(f"#case-{case_id}").count() == 1


def test_a_staff_account_is_refused_the_leads_pages(page: Any, stack: ConsoleStack, screenshots: Path) -> None:
    sign_in(page, stack, STAFF)
    page.wait_for_url("**/staff/cases")
    assert page.locator("nav >> text=Statistics").count() == 0
    response = page.goto(stack.console + "/stats")
    assert response.status == 403
    assert page.inner_text("[role=alert]") == "This page is for clinic leads."
    shot(page, screenshots, "forbidden")
    assert page.goto(stack.console + "/stats.csv").status == 403


def test_nothing_is_reachable_signed_out(page: Any, stack: ConsoleStack) -> None:
    case_id = open_case(stack, "+12125550105")
    for path in ("/", "/cases", f"/cases/{case_id}", "/stats", "/stats.csv"):
        page.goto(stack.console + path)
        assert page.url == stack.console + "/signin", path
        assert case_id not in page.content()
    sign_in(page, stack, LEAD)
    page.wait_for_url("**/staff/cases")
    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/staff/signin?out=1")
    assert page.inner_text("[role=status]") == "You are signed out."
    page.go_back()  # the cached page must not come back, nor the list refresh behind it
    page.goto(stack.console + f"/cases/{case_id}")
    assert page.url == stack.console + "/signin"
