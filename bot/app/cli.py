"""The command line: chat, triage, screen, simulate, flows, serve, worker, cases, audit. JSON on stdout; bad input:
one line on stderr, exit 2."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from bot.app.staff_console import console_problem, staff_group

CHANNELS = click.Choice(["sms", "telegram"])
LOCALES = click.Choice(["en", "es"])


def fail(message: str) -> NoReturn:
    click.echo(f"kneebot: {message}", err=True)
    sys.exit(2)


def emit(data: object) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


def _content() -> Any:
    from bot.content.loader import ContentError, load_content

    try:
        return load_content()
    except ContentError as e:
        fail(f"content is invalid: {e}")


def _read_findings(source: str) -> Any:
    import yaml
    from pydantic import ValidationError

    from bot.triage.findings import Findings

    try:
        raw = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as e:
        fail(f"cannot read {source}: {e.strerror}")
    try:
        data = json.loads(raw) if source == "-" or source.endswith(".json") else yaml.safe_load(raw)
    except (ValueError, yaml.YAMLError) as e:
        fail(f"{source}: not valid JSON: {str(e).splitlines()[0]}")
    if not isinstance(data, dict):
        fail(f"{source}: expected a JSON object of findings")
    try:
        return Findings.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        name = ".".join(str(p) for p in err["loc"]) or "findings"
        problem = "unknown finding" if err["type"] == "extra_forbidden" else err["msg"]
        fail(f"{source}: {name}: {problem}")


@click.group()
def main() -> None:
    """kneebot: a symptom checker for pain behind the knee."""


@main.command()
@click.argument("source", default="-")
def triage(source: str) -> None:
    """Assess findings (a JSON object, from FILE or - for stdin)."""
    from bot.triage.rules import assess

    findings = _read_findings(source)
    catalog = _content().catalog
    result = assess(findings)
    emit(
        {
            "level": result.level.value,
            "causes": [{"code": c.code, "why": catalog.raw(c.why, "en")} for c in result.causes],
            "red_flags": list(result.red_flags),
            "rules": list(result.rules),
        }
    )


@main.command()
@click.argument("text")
@click.option("--locale", type=LOCALES, default="en")
def screen(text: str, locale: str) -> None:
    """Screen one message for red flags (every language is read; --locale is the reply language, kept for the
    contract)."""
    result = _content().language.screen(text)
    emit({"interrupt": result.interrupt, "matched": list(result.matched)})


@main.command()
@click.option("--persona", required=True, help="findings JSON the simulated person answers from")
@click.option("--channel", type=CHANNELS, default="sms")
@click.option("--locale", type=LOCALES, default="en")
@click.option("--say", multiple=True, help="text sent instead of the answer to the 2nd question onward, in order")
def simulate(persona: str, channel: str, locale: str, say: tuple[str, ...]) -> None:
    """Run a whole conversation for a persona through the real engine, rendering and store."""
    from bot.app.simulate import simulate as run
    from bot.clock import SystemClock

    findings = _read_findings(persona)
    emit(asyncio.run(run(_content(), findings, SystemClock(), channel=channel, locale=locale, say=say)))


class OneLineErrors(click.Command):
    """A command whose bad options are one line on stderr and exit 2 (click's own usage text is several)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as e:
            fail(e.format_message())


def _country(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    import phonenumbers

    if value is None:
        return None
    code = value.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise click.BadParameter(f"{value!r} is not an ISO 3166 alpha-2 country code (such as US, GB, MX, ES)")
    return code


@main.command(cls=OneLineErrors)
@click.option("--channel", type=CHANNELS, default="sms", help="render as SMS text or Telegram buttons")
@click.option("--locale", type=LOCALES, default=None)
@click.option(
    "--country", default=None, metavar="CC", callback=_country, help="the person's country (emergency number)"
)
@click.option("--json", "as_json", is_flag=True, help="one message a line in, one JSON object a line out")
@click.option("--no-welcome", is_flag=True, help="with --json: the first line is the person's first message")
@click.option("--redis", "redis_url", default=None, metavar="URL", help="keep the conversation in this Redis")
def chat(
    channel: str, locale: str | None, country: str | None, as_json: bool, no_welcome: bool, redis_url: str | None
) -> None:
    """Talk to kneebot in the terminal (no Redis, tokens or network needed).

    With --json, a tool scripts the conversation: each line of stdin is one message, and each is answered with one
    JSON object on its own line of stdout, {"replies", "question", "level", "interrupt", "misunderstood"} (see the
    README); the first object is the welcome, unless --no-welcome, when the first line is the person's first message.
    A line /checkin makes the next check-in due now.

    The conversation is kept in memory unless --redis is given: never in the REDIS_URL of a .env or the environment,
    which is a deployment's."""
    from redis.exceptions import RedisError

    from bot.app.chat import run_chat, run_json

    if no_welcome and not as_json:
        fail("--no-welcome needs --json")
    settings = _settings("none", redis_url=redis_url)
    content = _content()
    try:
        if as_json:
            welcome = not no_welcome
            asyncio.run(run_json(content, settings, channel=channel, locale=locale, country=country, welcome=welcome))
        else:
            asyncio.run(run_chat(content, settings, channel, locale))
    except KeyboardInterrupt:
        click.echo()
    except RedisError as e:
        fail(f"cannot reach Redis at {settings.store_label}: {type(e).__name__}")


@main.group()
def flows() -> None:
    """Check or draw the flows."""


@flows.command("check")
def flows_check() -> None:
    """Validate every flow and locale (targets, reachability, endings, message keys)."""
    content = _content()
    emit({"ok": True, "flows": {f.id: {"version": f.version, "nodes": len(f.nodes)} for f in content.flows.values()}})


@flows.command("diagram")
@click.option("--flow", "flow_id", default="intake")
@click.option("--locale", type=LOCALES, default="en")
def flows_diagram(flow_id: str, locale: str) -> None:
    """Print a flow as a Mermaid diagram."""
    from bot.triage.flow import to_mermaid

    content = _content()
    if flow_id not in content.flows:
        fail(f"unknown flow {flow_id!r} (have: {', '.join(sorted(content.flows))})")
    click.echo(to_mermaid(content.flows[flow_id], dict(content.catalog.labels(locale))), nl=False)


def _settings(check: str, **overrides: Any) -> Any:
    """The settings, checked for the command: `server`, `worker`, `polling`, `redis` (REDIS_URL set) or `none`.
    A bad or missing setting is one line and exit 2."""
    from pydantic import ValidationError

    from bot.app.settings import Settings, SettingsError, describe

    try:
        settings = Settings(**overrides)
        if check == "server":
            settings.check_for_server()
        elif check == "worker":
            settings.check_for_worker()
        elif check == "polling":
            settings.check_for_polling()
        elif check == "redis" and not settings.redis_url:
            raise SettingsError("REDIS_URL must be set (cases and the audit trail are kept in Redis)")
    except SettingsError as e:
        fail(str(e))
    except ValidationError as e:
        fail(f"setting {describe(e)}")
    return settings


def _log_start(line: str) -> None:
    import logging

    logging.getLogger("kneebot").info(line)


def _telegram_reachable(settings: Any, content: Any, *, required: bool) -> None:
    """getMe before starting: a refused token is one line and exit 2; Telegram out of reach is too when `required`
    (the command can do nothing without it), else a warning (a server still answers SMS, and retries its sends)."""
    import logging

    from bot.app.startup import StartupError, check_telegram
    from bot.channels.telegram import TelegramSendError

    try:
        asyncio.run(check_telegram(settings, content))
    except StartupError as e:
        fail(str(e))
    except TelegramSendError as e:
        if required:
            fail(f"cannot reach Telegram at {settings.telegram_api_base_url}: {e}")
        logging.getLogger("kneebot").warning("Telegram not reachable at start (%s); replies are retried", e)


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", type=int, default=None, help="default: $PORT, else 8000")
def serve(host: str, port: int | None) -> None:
    """Run the webhook server (Telegram and Twilio)."""
    import logging

    import uvicorn

    from bot.app.logs import configure_logging
    from bot.app.server import create_app
    from bot.app.serving import uvicorn_config
    from bot.app.startup import check_store, start_line
    from bot.app.wiring import settle_heap

    settings = _settings("server")
    if problem := console_problem(settings):
        fail(problem)
    configure_logging(settings.log_level)
    content = _content()
    _telegram_reachable(settings, content, required=False)
    store = asyncio.run(check_store(settings))
    port = port or settings.port
    _log_start(start_line("serve", settings, store, where=f"{host}:{port}"))
    warn = logging.getLogger("kneebot").warning
    if store.up is None:
        warn(
            "REDIS_URL is not set: conversations are kept in this process's memory and lost when it stops; "
            "no check-ins and no staff cases. Set REDIS_URL for a deployment."
        )
    elif not store.up:
        # Not an exit: a red flag must still get the emergency reply, which needs nothing but the provider.
        warn("Redis is not reachable; serving anyway: red flags are answered, other messages asked to try again")
    app = create_app(settings, content=content)
    settle_heap()
    uvicorn.Server(uvicorn_config(app, host=host, port=port)).run()


@main.command("set-webhook")
def set_webhook() -> None:
    """Register the Telegram webhook (PUBLIC_BASE_URL + /telegram/webhook) with its secret, and the command menus."""
    from bot.channels.telegram import TelegramChannel, TelegramSendError

    settings = _settings("server")
    if settings.telegram_bot_token is None or settings.telegram_webhook_secret is None:
        fail("TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET must be set")
    if not settings.public_base_url:
        fail("PUBLIC_BASE_URL must be set")
    channel = TelegramChannel(
        settings.telegram_bot_token.get_secret_value(), _content().catalog, base_url=settings.telegram_api_base_url
    )

    async def run() -> None:
        await channel.start()
        try:
            await channel.set_webhook(
                settings.public_base_url.rstrip("/") + TelegramChannel.path,
                settings.telegram_webhook_secret.get_secret_value(),
            )
            await channel.set_commands()
        finally:
            await channel.stop()

    try:
        asyncio.run(run())
    except TelegramSendError as e:
        fail(f"Telegram refused or could not be reached: {e}")
    emit({"ok": True, "webhook": settings.public_base_url.rstrip("/") + TelegramChannel.path})


@main.command("telegram-poll")
@click.option("--force", is_flag=True, help="remove the bot's webhook (production stops getting messages)")
def telegram_poll(force: bool) -> None:
    """Run the Telegram bot by long polling (development: no public URL needed)."""
    from bot.app.logs import configure_logging
    from bot.app.server import create_app
    from bot.app.startup import check_store, start_line
    from bot.channels.telegram import TelegramChannel, TelegramSendError, parse_update

    settings = _settings("polling")
    configure_logging(settings.log_level)
    content = _content()
    _telegram_reachable(settings, content, required=True)
    store = asyncio.run(check_store(settings))
    if store.up is False:
        fail(f"cannot reach Redis at {settings.store_label}: {store.problem}")
    state = create_app(settings, content=content).state.kneebot
    channel = state.channels[TelegramChannel.name]  # created whenever a token is set
    assert isinstance(channel, TelegramChannel)

    async def run() -> None:
        import signal

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)  # the poll in hand is cancelled, and the process ends cleanly
        await channel.start()
        try:
            webhook = await channel.webhook_url()
            if webhook and not force:
                fail(
                    f"the bot has a webhook ({webhook}): polling would remove it and that server would stop getting "
                    "messages; run telegram-poll --force to remove it anyway"
                )
            _log_start(start_line("telegram-poll", settings, store))

            async def handle(update: Any) -> None:
                inbound = parse_update(update)
                if inbound is not None:
                    await state.receive(channel, inbound)

            await channel.poll(handle, stop=stop)
        finally:
            await asyncio.gather(*state.tasks, return_exceptions=True)
            await channel.stop()
            await state.store.aclose()

    try:
        asyncio.run(run())
    except TelegramSendError as e:
        fail(f"Telegram refused or could not be reached: {e}")


@main.command()
def worker() -> None:
    """Deliver due check-ins and page staff about unacknowledged cases (run one or more beside `serve`)."""
    import signal
    import threading

    from bot.app.logs import configure_logging
    from bot.app.startup import check_store, start_line
    from bot.app.wiring import run_service, settle_heap
    from bot.app.worker import run_worker

    # A stop asked for while the worker is still starting (a deploy, a scale-down) is kept, and honoured as soon as
    # the loop runs: the process then exits cleanly, as it would a moment later, rather than dying mid-start-up.
    asked_to_stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: asked_to_stop.set())
    settings = _settings("worker")
    configure_logging(settings.log_level)
    content = _content()
    store = asyncio.run(check_store(settings))
    if not store.up:
        fail(f"cannot reach Redis at {settings.store_label}: {store.problem}")
    _telegram_reachable(settings, content, required=True)
    _log_start(start_line("worker", settings, store))
    settle_heap()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)  # finish the item in hand, then exit
        if asked_to_stop.is_set():
            stop.set()
        await run_worker(settings, content, stop)

    run_service(run())


def _redis_for_cli(settings: Any) -> Any:
    from bot.app.wiring import redis_client

    return redis_client(settings.redis_url, timeout_s=5.0)


@main.command()
@click.option("--all", "show_all", is_flag=True, help="resolved cases too (kept 90 days), after the unresolved ones")
def cases(show_all: bool) -> None:
    """List unresolved cases (open and acknowledged), oldest first, one JSON line each: level, reason, red flags,
    status, pages sent. Says so on stderr when there are none."""
    from redis.exceptions import RedisError

    from bot.storage.cases import CaseStore

    settings = _settings("redis")

    async def run() -> list[Any]:
        client = _redis_for_cli(settings)
        try:
            store = CaseStore(client)
            return [*await store.unresolved(), *(await store.resolved() if show_all else [])]
        finally:
            await client.aclose()

    try:
        found = asyncio.run(run())
    except RedisError as e:
        fail(f"cannot reach Redis: {type(e).__name__}")
    if not found:
        click.echo("no cases (unresolved or resolved)" if show_all else "no unresolved cases", err=True)
    for case in found:
        emit(
            {
                "case": case.id,
                "level": case.level,
                "reason": case.reason,
                "red_flags": list(case.red_flags),
                "findings": dict(case.findings),
                "channel": case.channel,
                "status": case.status,
                "pages": case.pages,
                "opened_at": case.opened_at.isoformat(timespec="seconds"),
                "acknowledged_by": case.acknowledged_by,
                "resolved_at": case.resolved_at.isoformat(timespec="seconds") if case.resolved_at else None,
                "handoff": case.handoff,  # the person talks to staff in the console (their consent)
                "deleted": case.deleted_at is not None,  # the person deleted their data: no one to call back
            }
        )


@main.group()
def audit() -> None:
    """The audit trail (assessments, interrupts, check-ins, escalations; no text or identifiers)."""


@audit.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default="-", show_default=True)
@click.option("--since", default=None, help="ISO date or time (UTC), e.g. 2026-11-01")
def audit_export(output: str, since: str | None) -> None:
    """Write the audit trail as JSON lines, oldest first."""
    from datetime import UTC, datetime

    from redis.exceptions import RedisError

    from bot.storage.audit import AuditLog, as_json_line

    settings = _settings("redis")
    start = None
    if since is not None:
        try:
            start = datetime.fromisoformat(since)
        except ValueError:
            fail(f"--since: {since!r} is not an ISO date or time")
        start = start if start.tzinfo else start.replace(tzinfo=UTC)

    async def run(out: Any) -> int:
        client = _redis_for_cli(settings)
        count = 0
        try:
            async for row in AuditLog(client).export(since=start):
                out.write(as_json_line(row) + "\n")
                count += 1
        finally:
            await client.aclose()
        return count

    try:
        with click.open_file(output, "w", encoding="utf-8") as out:
            count = asyncio.run(run(out))
    except RedisError as e:
        fail(f"cannot reach Redis: {type(e).__name__}")
    except OSError as e:
        fail(f"cannot write {output}: {e.strerror}")
    if output != "-":
        click.echo(json.dumps({"ok": True, "events": count, "output": output}), err=True)


main.add_command(staff_group(lambda: _settings("redis")))
