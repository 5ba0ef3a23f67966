"""The command-line contract (DESIGN.md): JSON on stdout, exit 0; bad input: one line on stderr, exit 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import ID_SECRET
from tests.integration.conftest import wait_for
from tests.integration.fakes.serve import ServedApp
from tests.integration.fakes.telegram_api import TOKEN, FakeTelegramAPI

KNEEBOT = [sys.executable, "-m", "bot"]
ROOT = Path(__file__).resolve().parents[2]


def kneebot(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KNEEBOT, *args], input=stdin, capture_output=True, text=True, timeout=60)


def test_triage_reads_findings_from_stdin() -> None:
    result = kneebot("triage", "-", stdin='{"calf_swelling_one_side": true, "short_of_breath": true}')
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["level"] == "emergency"
    assert set(out) == {"level", "causes", "red_flags", "rules"}
    assert out["causes"][0]["code"] in {"pulmonary_embolism", "dvt"} and out["causes"][0]["why"]
    assert out["red_flags"] and out["rules"]


def test_triage_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text('{"known_osteoarthritis": true, "age": 70, "onset": "gradual"}')
    assert json.loads(kneebot("triage", str(path)).stdout)["level"] == "self_care"


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ('{"calf_swollen": true}', "unknown finding"),
        ('{"age": "old"}', "age"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"pain_score": 12}', "pain_score"),
    ],
)
def test_bad_findings_get_one_line_and_exit_2(stdin: str, message: str) -> None:
    result = kneebot("triage", "-", stdin=stdin)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file_is_exit_2() -> None:
    result = kneebot("triage", "/nonexistent/findings.json")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("text", "locale", "interrupt"),
    [
        ("I can't breathe and my calf is swollen", "en", "emergency"),
        ("no chest pain, just the ache", "en", None),
        ("me falta el aire", "es", "emergency"),
        ("could this be a clot in my lung?", "en", "confirm"),
        ("quiero morirme", "es", "crisis"),
    ],
)
def test_screen(text: str, locale: str, interrupt: str | None) -> None:
    out = json.loads(kneebot("screen", text, "--locale", locale).stdout)
    assert set(out) == {"interrupt", "matched"}
    assert out["interrupt"] == interrupt
    assert isinstance(out["matched"], list) and bool(out["matched"]) == (interrupt is not None)


def test_unknown_locale_is_exit_2() -> None:
    result = kneebot("screen", "hello", "--locale", "fr")
    assert result.returncode == 2


def test_simulate_prints_the_contract(tmp_path: Path) -> None:
    persona = tmp_path / "p.json"
    persona.write_text('{"cold_pale_foot": true}')
    out = json.loads(kneebot("simulate", "--persona", str(persona), "--channel", "telegram").stdout)
    assert set(out) == {"outcome", "interrupt", "questions_asked", "turns"}
    assert out["outcome"]["level"] == "emergency" and out["questions_asked"] == 1
    assert {t["from"] for t in out["turns"]} == {"bot", "user"}
    assert all(set(t) == {"from", "text", "key"} for t in out["turns"])


def test_flows_check_and_diagram() -> None:
    assert json.loads(kneebot("flows", "check").stdout)["ok"] is True
    diagram = kneebot("flows", "diagram").stdout
    assert diagram.startswith("flowchart TD") and "emergency_signs" in diagram


def test_chat_runs_a_conversation_on_stdin() -> None:
    result = kneebot("chat", "--channel", "sms", stdin="1\n")
    assert result.returncode == 0, result.stderr
    assert "Reply with a number" in result.stdout and "Call 911 now." in result.stdout


def test_chat_shows_the_checkin_on_request() -> None:
    # An emergency ("1": short of breath), then its check-in: seen ("1": yes), and better ("1").
    result = kneebot("chat", "--channel", "sms", stdin="/checkin\n1\n/checkin\n1\n1\n")
    assert result.returncode == 0, result.stderr
    assert "no check-in is scheduled" in result.stdout  # before any advice
    assert "Have you been seen" in result.stdout and "How is your knee now" in result.stdout
    assert "That's good to hear" in result.stdout


def test_triage_and_screen_do_not_import_the_web_stack_or_redis() -> None:
    code = (
        "import sys; from bot.app.cli import main\n"
        "try: main(['screen', 'hello'])\n"
        "except SystemExit: pass\n"
        "bad = [m for m in ('redis', 'starlette', 'telegram', 'twilio', 'uvicorn') if m in sys.modules]\n"
        "print(bad, file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stderr.strip().endswith("[]"), result.stderr


def settings_env(**settings: str) -> dict[str, str]:
    """The process environment without any kneebot setting, plus `settings` (NAME=value)."""
    from bot.app.settings import Settings

    ours = {name.upper() for name in Settings.model_fields}
    return {k: v for k, v in os.environ.items() if k.upper() not in ours} | settings


SMS_ENV = {
    "PUBLIC_BASE_URL": "https://kneebot.example",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "test-token",
    "TWILIO_FROM_NUMBER": "+15005550006",
    "TWILIO_API_BASE_URL": "http://127.0.0.1:9",
    "ID_HASH_SECRET": ID_SECRET,
}


def run_in(folder: Path, *args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The command run in `folder` (so a .env there is read, and none from anywhere else)."""
    command = [sys.executable, "-m", "bot", *args]
    pythonpath = {"PYTHONPATH": str(ROOT)}
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=60, env=env | pythonpath, cwd=folder
    )


def assert_one_line(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for text in expected:
        assert text in lines[0], lines[0]


def test_serve_with_a_half_configured_channel_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_in(tmp_path, "serve", env=settings_env(TELEGRAM_BOT_TOKEN="123:abc"))
    assert result.returncode == 2
    assert result.stderr.strip() == "kneebot: TELEGRAM_BOT_TOKEN is set but TELEGRAM_WEBHOOK_SECRET is not"


@pytest.mark.parametrize(
    ("name", "says"),
    [
        # Today an empty webhook secret accepts requests without the header, an empty Twilio token accepts
        # signatures made with an empty key, and an empty id secret makes every message a 500.
        ("TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_WEBHOOK_SECRET is not"),
        ("TWILIO_AUTH_TOKEN", "TWILIO_AUTH_TOKEN is not set"),
        ("ID_HASH_SECRET", "ID_HASH_SECRET is the development value"),
    ],
)
def test_serve_with_an_empty_secret_is_one_line_and_exit_2(tmp_path: Path, name: str, says: str) -> None:
    env = settings_env(**SMS_ENV, TELEGRAM_BOT_TOKEN="123:abc", TELEGRAM_WEBHOOK_SECRET="s3cret")
    env[name] = ""
    assert_one_line(run_in(tmp_path, "serve", env=env), says)


def test_serve_with_the_development_id_secret_says_how_to_make_a_real_one(tmp_path: Path) -> None:
    env = settings_env(**SMS_ENV)
    del env["ID_HASH_SECRET"]
    assert_one_line(run_in(tmp_path, "serve", env=env), "ID_HASH_SECRET", "secrets.token_hex(32)")


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["cases"], ["audit", "export"], ["chat", "--redis", "x"]])
def test_a_malformed_redis_url_is_one_line_and_exit_2(tmp_path: Path, command: list[str]) -> None:
    env = settings_env(**SMS_ENV, REDIS_URL="localhost:6379")
    if command[0] == "chat":
        command = ["chat", "--redis", "localhost:6379"]
    assert_one_line(run_in(tmp_path, *command, env=env), "REDIS_URL", "not a Redis URL")


def test_uk_is_refused_with_a_line_suggesting_gb(tmp_path: Path) -> None:
    result = run_in(tmp_path, "serve", env=settings_env(**SMS_ENV, DEFAULT_COUNTRY="UK"))
    assert_one_line(result, "DEFAULT_COUNTRY", "did you mean GB?")


def test_env_example_copied_as_it_is_stops_no_command(tmp_path: Path, redis_url: str) -> None:
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text().replace("redis://127.0.0.1:6379/0", redis_url))
    env = settings_env()
    chat = run_in(tmp_path, "chat", "--channel", "sms", env=env, stdin="1\n")
    assert chat.returncode == 0, chat.stderr
    assert "Call 911 now." in chat.stdout
    assert run_in(tmp_path, "flows", "check", env=env).returncode == 0
    assert run_in(tmp_path, "cases", env=env).returncode == 0
    # No channel yet: one line saying so (not "STAFF_TELEGRAM_CHAT_ID is not an integer", nor InvalidToken).
    assert_one_line(run_in(tmp_path, "serve", env=env), "no channel configured")


def test_chat_uses_redis_only_when_asked(tmp_path: Path, redis_url: str) -> None:
    import redis

    (tmp_path / ".env").write_text(f"REDIS_URL={redis_url}\n")
    with redis.Redis.from_url(redis_url) as client:
        result = run_in(tmp_path, "chat", env=settings_env(REDIS_URL=redis_url), stdin="1\n")
        assert result.returncode == 0, result.stderr
        assert client.keys("kneebot:*") == []  # neither the .env's REDIS_URL nor the environment's
        asked = run_in(tmp_path, "chat", "--redis", redis_url, env=settings_env(), stdin="1\n")
        assert asked.returncode == 0, asked.stderr
        assert client.keys("kneebot:v1:conversation:*")


def test_chat_with_an_unreachable_redis_is_one_line(tmp_path: Path) -> None:
    result = run_in(tmp_path, "chat", "--redis", "redis://127.0.0.1:9/0", env=settings_env(), stdin="1\n")
    assert_one_line(result, "cannot reach Redis")


def test_telegram_poll_without_network_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = settings_env(
        TELEGRAM_BOT_TOKEN="123:abc", TELEGRAM_API_BASE_URL="http://127.0.0.1:9/bot", ID_HASH_SECRET=ID_SECRET
    )
    assert_one_line(run_in(tmp_path, "telegram-poll", env=env), "cannot reach Telegram")


def test_telegram_poll_keeps_a_webhook_unless_forced(tmp_path: Path) -> None:
    telegram = FakeTelegramAPI()
    telegram.webhook = {"url": "https://production.example/telegram/webhook"}
    with ServedApp(telegram.app) as served:
        env = settings_env(
            TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=served.url + "/bot", ID_HASH_SECRET=ID_SECRET
        )
        assert_one_line(run_in(tmp_path, "telegram-poll", env=env), "webhook", "--force")
        assert telegram.webhook is not None and not telegram.calls_to("deleteWebhook")
        forced = subprocess.Popen(
            [sys.executable, "-m", "bot", "telegram-poll", "--force"],
            env=env | {"PYTHONPATH": str(ROOT)},
            cwd=tmp_path,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until(lambda: telegram.long_polling.is_set(), forced)
            assert telegram.webhook is None
            forced.send_signal(signal.SIGINT)
            _, stderr = forced.communicate(timeout=15)
        finally:
            stop(forced)
    assert forced.returncode == 0, stderr
    assert "Traceback" not in stderr and "telegram-poll: channels telegram; store memory" in stderr


def test_serve_says_what_it_runs_and_warns_without_redis(tmp_path: Path) -> None:
    from redis_server import free_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=settings_env(**SMS_ENV) | {"PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200, server)
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=15)
    finally:
        stop(server)
    assert f"kneebot 0.1.0 serve on 127.0.0.1:{port}: channels sms; store memory; workers seen unknown" in stderr
    assert "WARNING" in stderr and "REDIS_URL is not set" in stderr
    assert "Traceback" not in stderr


def test_worker_runs_until_sigterm_then_exits_cleanly(redis_url: str, tmp_path: Path) -> None:
    import redis

    proc = subprocess.Popen(
        [*KNEEBOT, "worker"], env=settings_env(**SMS_ENV, REDIS_URL=redis_url), stderr=subprocess.PIPE, text=True
    )
    try:
        with redis.Redis.from_url(redis_url) as client:
            # this test's connection and the worker's, polling for check-ins
            wait_until(lambda: len(client.client_list()) >= 2, proc)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    finally:
        stop(proc)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert f"kneebot 0.1.0 worker: channels sms; store {redis_url} (up); workers seen 0" in stderr


def test_worker_without_redis_at_start_is_one_line(tmp_path: Path) -> None:
    env = settings_env(**SMS_ENV, REDIS_URL="redis://127.0.0.1:9/0")
    assert_one_line(run_in(tmp_path, "worker", env=env), "cannot reach Redis")


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen[str], timeout_s: float = 30) -> None:
    """Poll `condition` (errors count as not yet) while the process runs."""

    def met() -> bool:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            return condition()
        except (httpx.HTTPError, OSError):
            return False

    wait_for(met, timeout_s, every_s=0.05)


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def test_services_run_on_uvloop_where_it_is_installed() -> None:
    import asyncio

    from bot.app.wiring import run_service

    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert run_service(loop_module()).startswith("uvloop")


def test_cases_says_when_there_are_none_and_all_adds_the_resolved_ones(tmp_path: Path, redis_url: str) -> None:
    import asyncio
    from datetime import UTC, datetime

    import redis.asyncio

    from bot.storage.cases import CaseStore

    env = settings_env(REDIS_URL=redis_url)
    none = run_in(tmp_path, "cases", env=env)
    assert (none.returncode, none.stdout, none.stderr.strip()) == (0, "", "no unresolved cases")
    everything = run_in(tmp_path, "cases", "--all", env=env)
    assert (everything.returncode, everything.stdout, everything.stderr.strip()) == (
        0,
        "",
        "no cases (unresolved or resolved)",
    )

    async def seed() -> tuple[str, str]:
        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            store, now = CaseStore(client), datetime(2026, 11, 5, 15, 0, tzinfo=UTC)
            common: dict[str, object] = {"red_flags": (), "findings": (), "channel": "sms", "contact": None, "now": now}
            kept, _ = await store.open("sms-a", level="urgent", reason="assessment", **common)  # type: ignore[arg-type]
            done, _ = await store.open("sms-b", level="soon", reason="human", **common)  # type: ignore[arg-type]
            await store.acknowledge(kept, "on-call 1", now)
            await store.resolve(done, "on-call 1", now)
            return kept, done
        finally:
            await client.aclose()

    kept, done = asyncio.run(seed())
    unresolved = [json.loads(line) for line in run_in(tmp_path, "cases", env=env).stdout.splitlines()]
    assert [(c["case"], c["status"]) for c in unresolved] == [(kept, "acknowledged")]
    listed = [json.loads(line) for line in run_in(tmp_path, "cases", "--all", env=env).stdout.splitlines()]
    assert [(c["case"], c["status"]) for c in listed] == [(kept, "acknowledged"), (done, "resolved")]
    assert listed[1]["resolved_at"] == "2026-11-05T15:00:00+00:00" and listed[0]["resolved_at"] is None
