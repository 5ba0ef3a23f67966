"""Prometheus metrics for the web server: counts and latency only, never identifiers or text.

Here in the shell rather than in bot.app because delivery counts the messages it sends and the sends that fail.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


@dataclass(frozen=True)
class ChannelMetrics:
    """One channel's series, looked up once: `labels()` costs more than the increment it leads to."""

    messages_in: Counter
    messages_out: Counter
    errors: Counter
    latency: Histogram


class Metrics:
    def __init__(self, channels: Iterable[str] = ()) -> None:
        self.registry = CollectorRegistry()
        self.messages_in = Counter("kneebot_messages_in", "Inbound messages", ["channel"], registry=self.registry)
        self.messages_out = Counter("kneebot_messages_out", "Replies sent", ["channel"], registry=self.registry)
        self.assessments = Counter("kneebot_assessments", "Assessments given", ["level"], registry=self.registry)
        self.interrupts = Counter(
            "kneebot_red_flag_interrupts", "Red-flag interrupts", ["kind"], registry=self.registry
        )
        self.errors = Counter("kneebot_errors", "Errors while handling a request", ["where"], registry=self.registry)
        self.latency = Histogram(
            "kneebot_handling_seconds",
            "Time to handle one webhook request",
            ["channel"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )

        # Every configured channel's series exist from the start (at zero), as Prometheus advises for known label
        # values.
        self.channel = {name: self._channel(name) for name in channels}

    def _channel(self, name: str) -> ChannelMetrics:
        return ChannelMetrics(
            self.messages_in.labels(channel=name),
            self.messages_out.labels(channel=name),
            self.errors.labels(where=name),
            self.latency.labels(channel=name),
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
