"""How big an outcome is on SMS: messages and segments per level and language, for every vignette of
tests/data/vignettes.yaml, through the real rules, catalogs and SMS renderer (GSM-7 where the language allows).

Each vignette's outcome is composed as the engine composes it (bot.triage.outcome, with the engine's closing lines),
in both languages, with a 3-digit emergency number and with the longest wording the number takes ("112 (from a
mobile) or your local emergency number", for a country without a row), with and without the clinic line ("I have also
let the clinic team know"). Prints a Markdown table: the largest and the typical size per level and language, and
whether the call-now line was in the first message every time. Also the size of the TIPS reply (the details).
Run: .venv/bin/python bench/bench_outcomes.py
"""

from __future__ import annotations

import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from bot.channels.render import render_sms
from bot.channels.segments import segments, to_gsm
from bot.content.loader import load_content
from bot.triage import outcome, rules
from bot.triage.effects import Param, SendReply, Text
from bot.triage.emergency import UNKNOWN_NUMBER
from bot.triage.engine import Escalation, Policy, closing
from bot.triage.findings import Findings, Level

ROOT = Path(__file__).resolve().parent.parent
NUMBERS: tuple[tuple[str, Param], ...] = (("911", "911"), ("112", (UNKNOWN_NUMBER,)))
ESCALATIONS: tuple[Escalation, ...] = ("off", "anonymous")


def vignettes() -> list[dict[str, Any]]:
    data = yaml.safe_load((ROOT / "tests" / "data" / "vignettes.yaml").read_text(encoding="utf-8"))
    cases: list[dict[str, Any]] = data["vignettes"]
    return cases


def outcomes(facts: dict[str, Any]) -> list[tuple[SendReply, Text, Level]]:
    """The vignette's outcome in every variant: (reply, its call-now part, level)."""
    findings = Findings.model_validate(facts)
    assessment = rules.assess(findings)
    level = assessment.level
    child = rules.child(findings)
    made = []
    for dial, number in NUMBERS:
        for escalation in ESCALATIONS:
            ending = closing(level, Policy(escalation=escalation), told=level >= Level.urgent)
            reply = outcome.outcome_reply(assessment, assessment, number=number, dial=dial, child=child, closing=ending)
            call_now = (
                reply.parts[0]
                if level is Level.emergency
                else next(p for p in reply.parts if p.key.startswith("watch.call_if"))
            )
            made.append((reply, call_now, level))
    return made


def main() -> int:
    content = load_content()
    catalog = content.catalog
    sizes: dict[tuple[Level, str], list[tuple[int, int, str]]] = defaultdict(list)
    details: dict[tuple[Level, str], list[tuple[int, int]]] = defaultdict(list)
    first = True
    for case in vignettes():
        for reply, call_now, level in outcomes(case["facts"]):
            for locale in catalog.locales:
                bodies = render_sms(reply, catalog, locale)
                total = sum(segments(b) for b in bodies)
                sizes[level, locale].append((len(bodies), total, case["id"]))
                first = first and to_gsm(catalog.render(call_now, locale)).split(":")[0] in bodies[0]
                findings = Findings.model_validate(case["facts"])
                child = rules.child(findings)
                assessed = rules.assess(findings)
                more = outcome.details(assessed, assessed, child=child, earlier=False)
                if more:
                    tips = render_sms(SendReply(parts=more), catalog, locale)
                    details[level, locale].append((len(tips), sum(segments(b) for b in tips)))
    print(f"{len(vignettes())} vignettes x {len(NUMBERS)} numbers x {len(ESCALATIONS)} clinic settings")
    print()
    print(
        "| level | language | outcomes | SMS messages (max) | segments (max) | segments (median) | largest "
        "| TIPS reply (max msgs / segs) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for level in sorted(Level, key=lambda lv: -lv.rank):
        for locale in catalog.locales:
            rows = sizes[level, locale]
            if not rows:
                continue
            most_messages = max(r[0] for r in rows)
            worst = max(rows, key=lambda r: (r[1], r[0]))
            extra = details[level, locale]
            tips = f"{max(d[0] for d in extra)} / {max(d[1] for d in extra)}" if extra else "none offered"
            print(
                f"| {level.value} | {locale} | {len(rows)} | {most_messages} | {worst[1]} | "
                f"{statistics.median(r[1] for r in rows):g} | {worst[2]} | {tips} |"
            )
    print()
    print(f"call-now line in the first message: {'always' if first else 'NOT ALWAYS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
