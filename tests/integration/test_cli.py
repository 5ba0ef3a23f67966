"""The command-line contract (DESIGN.md): JSON on stdout, exit 0; bad input: one line on stderr, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

KNEEBOT = [sys.executable, "-m", "bot"]


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
    result = kneebot("chat", "--channel", "sms", stdin="/checkin\n1\n/checkin\n1\n")
    assert result.returncode == 0, result.stderr
    assert "no check-in is scheduled" in result.stdout  # before any advice
    assert "How is your knee now" in result.stdout and "That's good to hear" in result.stdout


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


def test_serve_with_a_half_configured_channel_is_one_line_and_exit_2() -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "TWILIO_"))}
    env["TELEGRAM_BOT_TOKEN"] = "123:abc"
    result = subprocess.run([*KNEEBOT, "serve"], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == "kneebot: TELEGRAM_BOT_TOKEN is set but TELEGRAM_WEBHOOK_SECRET is not"


def test_worker_runs_until_sigterm_then_exits_cleanly(redis_url: str) -> None:
    import os
    import signal
    import time

    import redis

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "TWILIO_", "REDIS_"))}
    env |= {
        "REDIS_URL": redis_url,
        "PUBLIC_BASE_URL": "https://kneebot.example",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "test-token",
        "TWILIO_FROM_NUMBER": "+15005550006",
        "TWILIO_API_BASE_URL": "http://127.0.0.1:9",
    }
    proc = subprocess.Popen([*KNEEBOT, "worker"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        with redis.Redis.from_url(redis_url) as client:
            deadline = time.monotonic() + 30
            while len(client.client_list()) < 2:  # this test's connection and the worker's, polling for check-ins
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "the worker never reached Redis"
                time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_services_run_on_uvloop_where_it_is_installed() -> None:
    import asyncio

    from bot.app.wiring import run_service

    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert run_service(loop_module()).startswith("uvloop")
