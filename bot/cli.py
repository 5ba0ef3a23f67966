"""The command line: chat, triage, screen, simulate, flows. JSON on stdout; bad input: one line on stderr, exit 2."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

CHANNELS = click.Choice(["sms", "telegram"])
LOCALES = click.Choice(["en", "es"])


def fail(message: str) -> NoReturn:
    click.echo(f"kneebot: {message}", err=True)
    sys.exit(2)


def emit(data: object) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


def _content() -> Any:
    from bot.content import ContentError, load_content

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
    """Screen one message for red flags."""
    from bot.triage.red_flags import screen as run_screen

    result = run_screen(text, locale)
    emit({"interrupt": result.interrupt, "matched": list(result.matched)})


@main.command()
@click.option("--persona", required=True, help="findings JSON the simulated person answers from")
@click.option("--channel", type=CHANNELS, default="sms")
@click.option("--locale", type=LOCALES, default="en")
@click.option("--say", multiple=True, help="text sent instead of the answer to the 2nd question onward, in order")
def simulate(persona: str, channel: str, locale: str, say: tuple[str, ...]) -> None:
    """Run a whole conversation for a persona through the real engine, rendering and store."""
    from bot.clock import SystemClock
    from bot.simulate import simulate as run

    findings = _read_findings(persona)
    emit(asyncio.run(run(_content(), findings, SystemClock(), channel=channel, locale=locale, say=say)))


@main.command()
@click.option("--channel", type=CHANNELS, default="sms", help="render as SMS text or Telegram buttons")
@click.option("--locale", type=LOCALES, default=None)
def chat(channel: str, locale: str | None) -> None:
    """Talk to kneebot in the terminal (no Redis, tokens or network needed)."""
    from bot.chat import run_chat

    try:
        asyncio.run(run_chat(_content(), channel, locale))
    except KeyboardInterrupt:
        click.echo()


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
