"""Check-in dispatch under load, run by bench/bench_dispatch.py and scaled down by
tests/integration/test_worker_dispatch.py: N due check-ins, `kneebot worker` processes, one killed with SIGKILL.

A private redis-server, the fake Telegram Bot API and the fake Twilio API each run in a process of their own (so
their CPU does not share the workers' GIL); the fakes record every accepted message (recipient, arrival time on the
shared monotonic clock, the client's TCP port) and serve them on /stats. The schedule is seeded with N check-ins due
now, half Telegram (distinct chat ids) and half SMS (distinct numbers), each with the stored conversation a real
self-care assessment leaves, so the engine asks the check-in question. Their due times are 1 ms apart, alternating
channels, as due times from real assessments interleave. Three `kneebot worker` processes then deliver them through
the shared Redis rate limiter (--same-due: all due at the same millisecond, as when quiet hours end); once a third
of the messages have arrived, one worker is killed with SIGKILL. The run ends when the schedule (`ZCARD
kneebot:v1:checkins`) is empty, plus a grace period for messages still in flight.

Reported: messages per channel, check-ins lost (no message) and duplicated (more than one), the most messages in any
1-second window at each fake (Telegram: per bot; Twilio: per sending number), the achieved rate over the steady part
(the 5th to the 95th percentile of each channel's arrivals) against the configured limit, wall time and CPU.
Each message is attributed to the worker that sent it from its TCP source port (the workers' sockets are read from
/proc while the run goes on), so a duplicate can be traced to the killed worker.
"""

from __future__ import annotations

import asyncio
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import redis
import redis.asyncio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from bot.clock import SystemClock  # noqa: E402
from bot.content.loader import Content, load_content  # noqa: E402
from bot.shell.checkin_job import CONCURRENCY  # noqa: E402
from bot.shell.conversation import ConversationService  # noqa: E402
from bot.storage import keys  # noqa: E402
from bot.storage.checkins import Address, CheckIn, CheckInStore  # noqa: E402
from bot.storage.conversations import MemoryConversationStore, RedisConversationStore  # noqa: E402
from bot.triage.events import MessageReceived  # noqa: E402
from bot.triage.findings import Level  # noqa: E402
from bot.triage.session import Session, SessionStatus  # noqa: E402
from tests.integration.fakes.telegram_api import TOKEN, FakeTelegramAPI  # noqa: E402
from tests.integration.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi  # noqa: E402
from tests.processes import ReadyServer, most_in_any_window, process_cpu_s, ready_port, version  # noqa: E402
from tests.redis_server import stop_process  # noqa: E402

OUR_NUMBER = "+15005550006"
PUBLIC = "https://kneebot.example.org"
SECRET = "bench-webhook-secret"
ID_SECRET = b"bench-only-id-hash-secret-0123456789abcdef"  # the workers' ID_HASH_SECRET
# A self-care conversation typed over SMS (the same as bench_webhooks.py): what a stored conversation looks like.
SMS_SCRIPT = ["hi", "6", "4", "30", "4", "3", "5", "4", "1 week", "1", "3"]
SMS_AREAS = (212, 646, 718, 917, 347, 929, 332, 516, 914, 631)  # +1 <area> 555 xxxx: 10,000 numbers per area code
FIRST_CHAT = 1_000_000_000
POLL_S = 0.25
PACKAGES = (
    "python-telegram-bot",
    "httpx",
    "httpcore",
    "twilio",
    "aiohttp",
    "redis",
    "hiredis",
    "pydantic",
    "uvicorn",
    "uvloop",
    "starlette",
)
WINDOW_S = 1.0
# A request the killed worker wrote before it died can still reach the fake a moment after the SIGKILL: its first
# message counts as the killed worker's when it arrives up to this long after the kill.
IN_FLIGHT_S = 0.1


# --- the fakes, each in a process of its own --------------------------------------------------------------------


class RecordingTelegramAPI(FakeTelegramAPI):
    """Also records each accepted sendMessage as [chat id, arrival time (monotonic), client port], for /stats."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted: list[tuple[int, float, int]] = []

    async def _sendmessage(self, params: dict[str, Any], request: Request) -> Any:
        arrived = time.monotonic()
        message = await super()._sendmessage(params, request)  # raises for a refused message
        port = request.client.port if request.client else 0
        with self._lock:
            self.accepted.append((int(message["chat"]["id"]), arrived, port))
            del self.messages[(message["chat"]["id"], message["message_id"])]  # keep the fake's memory flat
        return message


class RecordingTwilioApi(FakeTwilioApi):
    """Also records each accepted message as [to, from, arrival time (monotonic), client port], for /stats."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted: list[tuple[str, str, float, int]] = []

    async def _create(self, request: Request) -> JSONResponse:
        arrived = time.monotonic()
        response = await super()._create(request)
        if response.status_code == 201:
            form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))  # the body is cached
            port = request.client.port if request.client else 0
            with self._lock:
                self.accepted.append((form.get("To", ""), form.get("From", ""), arrived, port))
        return response


def fake_app(name: str) -> Starlette:
    fake: RecordingTelegramAPI | RecordingTwilioApi = (
        RecordingTelegramAPI() if name == "telegram" else RecordingTwilioApi()
    )

    async def count(_: Request) -> Response:
        return JSONResponse({"accepted": len(fake.accepted)})

    async def stats(_: Request) -> Response:
        return JSONResponse({"accepted": list(fake.accepted)})

    return Starlette(routes=[Route("/count", count), Route("/stats", stats), Mount("/", app=fake.app)])


def serve(name: str) -> None:
    """Child process: one fake API on a free loopback port (uvicorn defaults, as bench_webhooks.py serves)."""
    config = uvicorn.Config(fake_app(name), host="127.0.0.1", port=0, log_level="warning", access_log=False)
    ReadyServer(config).run()


class FakeProcess:
    def __init__(self, name: str, log_dir: Path) -> None:
        self.name = name
        self.log = log_dir / f"fake-{name}-{uuid.uuid4().hex[:6]}.log"
        args = [sys.executable, str(Path(__file__).resolve()), "--serve", name]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, cwd=ROOT)
        port = ready_port(self.proc, 60)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        if port is None:
            self.stop()
            raise RuntimeError(f"fake {name} did not start; see {self.log}:\n{self.log.read_text(errors='replace')}")
        self.port = port
        self.url = f"http://127.0.0.1:{self.port}"
        self.http = httpx.Client(timeout=30)

    def count(self) -> int:
        return int(self.http.get(self.url + "/count").json()["accepted"])

    def accepted(self) -> list[list[Any]]:
        records: list[list[Any]] = self.http.get(self.url + "/stats").json()["accepted"]
        return records

    def cpu_s(self) -> float:
        return process_cpu_s(self.proc.pid)

    def stop(self) -> None:
        if hasattr(self, "http"):
            self.http.close()
        stop_process(self.proc)


# --- which worker holds which connection ---------------------------------------------------------------------------


def connections(pids: Sequence[int], remote_ports: set[int]) -> dict[int, int]:
    """Local port -> pid, for the TCP connections these processes hold to the given loopback ports (Linux /proc)."""
    local_by_inode: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and int(parts[2].rsplit(":", 1)[1], 16) in remote_ports:
                local_by_inode[parts[9]] = int(parts[1].rsplit(":", 1)[1], 16)
    owners: dict[int, int] = {}
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in local_by_inode:
                owners[local_by_inode[link[8:-1]]] = pid
    return owners


# --- seeding ---------------------------------------------------------------------------------------------------


async def completed_session(content: Content) -> Session:
    """The conversation a real self-care assessment over SMS leaves behind (11 messages, 10 answers)."""
    service = ConversationService(content, MemoryConversationStore(), SystemClock())
    for n, text in enumerate(SMS_SCRIPT):
        await service.handle("sms-probe", MessageReceived(text), message_id=f"m{n}", country="US")
    session = await service.session("sms-probe")
    if session is None or session.status is not SessionStatus.completed or session.level is not Level.self_care:
        raise RuntimeError(f"the script did not end in a self-care assessment: {session}")
    return session


def chat_id(i: int) -> int:
    return FIRST_CHAT + i


def phone(i: int) -> str:
    area = SMS_AREAS[i // 10_000 % len(SMS_AREAS)]
    return f"+1{area}555{i % 10_000:04d}"


@dataclass
class Seeded:
    telegram: list[int]  # chat ids
    sms: list[str]  # numbers
    seconds: float


async def seed(
    redis_url: str, content: Content, checkins: int, *, same_due: bool = False, concurrency: int = 64
) -> Seeded:
    """`checkins` due check-ins, alternating Telegram and SMS, due 1 ms apart and all in the past (`same_due`: all
    at the same millisecond, as when quiet hours end); each person has the stored conversation of a completed
    self-care assessment."""
    started = time.perf_counter()
    session = await completed_session(content)
    now = datetime.now(UTC)
    session = session.model_copy(update={"assessed_at": now - timedelta(hours=48), "updated_at": now})
    client = redis.asyncio.Redis.from_url(redis_url)
    store, schedule = RedisConversationStore(client), CheckInStore(client)
    gate = asyncio.Semaphore(concurrency)
    seeded = Seeded([], [], 0.0)

    async def one(i: int) -> None:
        if i % 2 == 0:
            seeded.telegram.append(chat_id(i // 2))
            address, channel = Address(channel="telegram", to=str(chat_id(i // 2))), "tg"
        else:
            seeded.sms.append(phone(i // 2))
            address, channel = Address(channel="sms", to=phone(i // 2)), "sms"
        participant = keys.participant_id(ID_SECRET, channel, address.to)
        checkin = CheckIn(
            participant=participant,
            seq=1,
            level=Level.self_care.value,
            address=address,
            locale="en",
            country="US",
            zone="America/New_York",
            due_at=now - timedelta(milliseconds=checkins if same_due else checkins - i),
        )
        async with gate:
            if not await store.commit(participant, 0, session):
                raise RuntimeError("seeding: a conversation was already stored")
            if not await schedule.add(checkin, now):
                raise RuntimeError("seeding: a check-in was already scheduled")

    try:
        await asyncio.gather(*(one(i) for i in range(checkins)))
        pending = await schedule.schedule.pending()
    finally:
        await store.aclose()  # and the client
    if pending != checkins:
        raise RuntimeError(f"seeded {pending} check-ins, expected {checkins}")
    seeded.seconds = time.perf_counter() - started
    return seeded


# --- the workers -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    checkins: int = 20_000
    workers: int = 3
    telegram_rate: float = 30.0
    sms_rate: float = 30.0
    lease: str = "20s"
    poll_s: float = 1.0
    kill_at: float = 1 / 3  # SIGKILL one worker once this share of the messages has arrived (0: never)
    grace_s: float = 3.0
    same_due: bool = False  # every check-in due at the same millisecond
    timeout_s: float | None = None  # default: from the rates


def lease_s(lease: str) -> float:
    from bot.app.settings import parse_duration

    return parse_duration(lease).total_seconds()


def worker_command() -> list[str]:
    script = Path(sys.executable).parent / "kneebot"
    return [str(script), "worker"] if script.exists() else [sys.executable, "-m", "bot", "worker"]


def worker_env(config: Config, redis_url: str, telegram_url: str, twilio_url: str) -> dict[str, str]:
    """The process environment without any setting of ours, then the bench's (no quiet hours, no staff paging)."""
    from bot.app.settings import Settings

    ours = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in ours}
    env.update(
        REDIS_URL=redis_url,
        PUBLIC_BASE_URL=PUBLIC,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_API_BASE_URL=telegram_url + "/bot",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_FROM_NUMBER=OUR_NUMBER,
        TWILIO_API_BASE_URL=twilio_url,
        TELEGRAM_RATE_PER_S=str(config.telegram_rate),
        SMS_RATE_PER_S=str(config.sms_rate),
        CHECKIN_LEASE=config.lease,
        QUIET_HOURS="off",
        ID_HASH_SECRET=ID_SECRET.decode(),
        WORKER_POLL_S=str(config.poll_s),
    )
    return env


@dataclass
class Worker:
    number: int
    proc: subprocess.Popen[bytes]
    log: Path
    ready_cpu_s: float | None = None  # its CPU once it had called getMe: start-up (imports, content, connections)
    cpu_s: float = 0.0  # its CPU at the end of the run (or just before it was killed)
    killed: bool = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def work_cpu_s(self) -> float:
        """CPU after start-up: the check-ins (and its idle polling)."""
        return self.cpu_s - (self.ready_cpu_s or 0.0)

    def log_counts(self) -> dict[str, int]:
        text = self.log.read_text(errors="replace")
        return {"errors": text.count(" ERROR ") + text.count("Traceback"), "warnings": text.count(" WARNING ")}


# --- one run ---------------------------------------------------------------------------------------------------

LIMITER_KEYS = {"telegram": keys.ratelimit("telegram"), "sms": keys.ratelimit("sms")}


@dataclass
class Message:
    to: str
    at: float  # arrival at the fake, monotonic
    worker: int | None  # the sending worker's number; None when its connection was never seen


@dataclass
class Duplicate:
    channel: str
    to: str
    times: list[float]
    first_worker: int | None
    first_in_killed_lease: (
        bool  # the first message arrived in the killed worker's last lease (or in flight at the kill)
    )


@dataclass
class Result:
    config: Config
    seeded: Seeded
    messages: dict[str, list[Message]]
    grants: dict[str, list[float]]  # the shared limiter's grants (Redis TIME, moved to the monotonic clock)
    workers: list[Worker]
    started_at: float
    first_at: float | None
    empty_at: float | None  # when the schedule was seen empty (None: the run timed out)
    ended_at: float
    remaining: int
    killed: Worker | None
    kill_at: float | None
    kill_after: int  # messages that had arrived when the worker was killed
    other_cpu: dict[str, float] = field(default_factory=dict)
    duplicates: list[Duplicate] = field(default_factory=list)
    given_back: dict[str, int] = field(default_factory=dict)  # grants whose slot went back unused (not in grants)

    def seeded_for(self, channel: str) -> list[str]:
        return [str(c) for c in self.seeded.telegram] if channel == "telegram" else list(self.seeded.sms)

    def per_recipient(self, channel: str) -> Counter[str]:
        return Counter(m.to for m in self.messages[channel])

    def delivered(self, channel: str) -> int:
        return len(self.messages[channel])

    def lost(self, channel: str) -> int:
        counts = self.per_recipient(channel)
        return sum(1 for to in self.seeded_for(channel) if counts[to] == 0)

    def duplicated(self, channel: str) -> int:
        return sum(1 for n in self.per_recipient(channel).values() if n > 1)

    def strangers(self, channel: str) -> int:
        """Messages to anyone who was not seeded (must be 0)."""
        seeded = set(self.seeded_for(channel))
        return sum(1 for m in self.messages[channel] if m.to not in seeded)

    def times(self, channel: str) -> list[float]:
        return sorted(m.at for m in self.messages[channel])

    def max_in_window(self, channel: str, window_s: float = WINDOW_S) -> int:
        """At the fake: Telegram's is per bot; the SMS one is per sending number (there is one)."""
        return most_in_any_window(self.times(channel), window_s)

    def windows_over(self, channel: str, window_s: float = WINDOW_S) -> list[float]:
        """Where (seconds after the channel's first message) each 1-second window over the limit at the fake ends."""
        times, limit = self.times(channel), self.limit(channel)
        ends, first = [], 0
        for last, t in enumerate(times):
            while t - times[first] >= window_s:
                first += 1
            if last - first + 1 > limit:
                ends.append(t - times[0])
        return ends

    def max_granted(self, channel: str, window_s: float = WINDOW_S) -> int:
        return most_in_any_window(self.grants[channel], window_s)

    def limit(self, channel: str) -> float:
        return self.config.telegram_rate if channel == "telegram" else self.config.sms_rate

    def count(self, channel: str) -> int:
        """The limit as whole messages per window (bot/shell/delivery.py)."""
        return count_of(self.limit(channel))

    def window_s(self, channel: str) -> float:
        """The limit's window: 1 s for a rate of 1/s or more."""
        return window_of(self.limit(channel))

    def steady_window(self, channel: str) -> tuple[float, float]:
        """From the 5th percentile of the channel's arrivals (and at least two limiter windows after the first, past
        the opening burst the empty limiter allows) to the 95th (before the tail; the killed worker's check-ins
        come back one lease after their claim, mostly inside this part)."""
        times = self.times(channel)
        if len(times) < 20:
            return (float("nan"), float("nan"))
        low = max(times[int(0.05 * (len(times) - 1))], times[0] + 2 * self.window_s(channel))
        return low, times[int(0.95 * (len(times) - 1))]

    def rate_between(self, channel: str, start: float, end: float) -> float:
        """Messages per second inside [start, end], as `count` / the mean time `count` consecutive messages took:
        at the limit, a sliding-window limiter grants in bursts that repeat every window, and a plain count over a
        few seconds would swing by up to one burst. Fewer than `count` + 1 messages: first to last."""
        times = [t for t in self.times(channel) if start <= t <= end]
        n = self.count(channel)
        if len(times) > n:
            spans = [times[k + n] - times[k] for k in range(len(times) - n)]
            return n / statistics.fmean(spans)
        if len(times) < 2 or times[-1] <= times[0]:
            return float("nan")
        return (len(times) - 1) / (times[-1] - times[0])

    def steady_rate(self, channel: str) -> float:
        return self.rate_between(channel, *self.steady_window(channel))

    def delays(self, channel: str) -> list[float] | None:
        """Grant-to-arrival delays, pairing the k-th grant with the k-th arrival (an estimate: it assumes messages
        arrive in the order of their grants). None when the counts differ (a grant whose message never went)."""
        grants, times = self.grants[channel], self.times(channel)
        if len(grants) != len(times):
            return None
        return sorted(t - g for g, t in zip(grants, times, strict=True))

    @property
    def wall_s(self) -> float:
        return (self.empty_at or self.ended_at) - self.started_at

    @property
    def worker_cpu_s(self) -> float:
        return sum(w.cpu_s for w in self.workers)

    @property
    def worker_work_cpu_s(self) -> float:
        return sum(w.work_cpu_s for w in self.workers)


def count_of(rate: float) -> int:
    """A rate as whole messages per window, as bot/shell/delivery.py sets its limits."""
    return max(1, int(rate)) if rate >= 1 else 1


def window_of(rate: float) -> float:
    return count_of(rate) / rate


def grant_time(member: bytes) -> float:
    """A grant's Redis TIME (the limiter names its members `<token>@<seconds>.<microseconds>`), in seconds."""
    seconds, _, micros = member.rpartition(b"@")[2].partition(b".")
    return int(seconds) + int(micros) / 1_000_000


class Monitor:
    """What the bench watches while the workers run: which worker holds which connection to the fakes (from /proc),
    when each worker is ready, and every grant of the shared limiter (its sorted sets keep a grant for one
    window after its send, so polling them every 0.25 s sees every grant; the grant's time is in its member)."""

    def __init__(
        self, workers: list[Worker], fake_ports: dict[str, int], sync: redis.Redis, windows: dict[str, float]
    ) -> None:
        self.workers, self.fake_ports, self.sync, self.windows = workers, fake_ports, sync, windows
        self.by_pid = {w.pid: w for w in workers}
        self.owners: dict[int, set[int]] = defaultdict(set)  # client port -> numbers of the workers seen holding it
        self.grants: dict[str, dict[bytes, float]] = {channel: {} for channel in LIMITER_KEYS}
        # A grant whose slot was given back unused (its check-in had nothing left to send) leaves its sorted set
        # before its window is over; it sent nothing, so it is not counted with the grants.
        self.given_back: dict[str, set[bytes]] = {channel: set() for channel in LIMITER_KEYS}
        self.scores: dict[str, dict[bytes, float]] = {channel: {} for channel in LIMITER_KEYS}
        self.clock_offset = time.time() - time.monotonic()  # CLOCK_REALTIME - CLOCK_MONOTONIC, machine-wide

    def poll(self) -> None:
        live = [w.pid for w in self.workers if not w.killed and w.proc.poll() is None]
        for port, pid in connections(live, set(self.fake_ports.values())).items():
            worker = self.by_pid[pid]
            self.owners[port].add(worker.number)
            if worker.ready_cpu_s is None:
                worker.ready_cpu_s = process_cpu_s(pid)
        pipe = self.sync.pipeline(transaction=False)
        for key in LIMITER_KEYS.values():
            pipe.zrange(key, 0, -1, withscores=True)
        for channel, entries in zip(LIMITER_KEYS, pipe.execute(), strict=True):
            now = time.time()
            scores = {member: score / 1_000_000 for member, score in entries}
            for member, score in self.scores[channel].items():
                # Gone while it still counted (the limiter trims an entry only once its score is a window old).
                if member not in scores and score > now - self.windows[channel] + 0.05:
                    self.given_back[channel].add(member)
            self.scores[channel] = scores
            for member in scores:
                self.grants[channel][member] = grant_time(member) - self.clock_offset

    def worker_of(self, port: int) -> int | None:
        seen = self.owners.get(port, set())
        return next(iter(seen)) if len(seen) == 1 else None


def run_dispatch(config: Config, redis_url: str, log_dir: Path, *, verbose: bool = False) -> Result:
    """Seed, start the fakes and the workers, kill one midway, wait for the schedule to empty; what arrived."""

    def say(text: str) -> None:
        if verbose:
            print(text, flush=True)

    content = load_content()
    telegram = FakeProcess("telegram", log_dir)
    twilio = FakeProcess("twilio", log_dir)
    workers: list[Worker] = []
    sync = redis.Redis.from_url(redis_url)
    try:
        redis_pid = int(sync.info("server")["process_id"])
        seeded = asyncio.run(seed(redis_url, content, config.checkins, same_due=config.same_due))
        total = config.checkins
        say(f"seeded {total} due check-ins in {seeded.seconds:.1f} s")
        env = worker_env(config, redis_url, telegram.url, twilio.url)
        expected_s = max(len(seeded.telegram) / config.telegram_rate, len(seeded.sms) / config.sms_rate) * 1.05
        timeout_s = config.timeout_s or 3 * expected_s + 3 * lease_s(config.lease) + 60
        others = {"fake telegram": telegram.proc.pid, "fake twilio": twilio.proc.pid, "redis": redis_pid}
        cpu_before = {name: process_cpu_s(pid) for name, pid in others.items()}
        started = time.monotonic()
        for number in range(1, config.workers + 1):
            log = log_dir / f"worker-{number}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    worker_command(), env=env, cwd=log_dir, stdin=subprocess.DEVNULL, stdout=out, stderr=out
                )
            workers.append(Worker(number, proc, log))
        windows = {"telegram": window_of(config.telegram_rate), "sms": window_of(config.sms_rate)}
        monitor = Monitor(workers, {"telegram": telegram.port, "twilio": twilio.port}, sync, windows)
        killed: Worker | None = None
        kill_at: float | None = None
        kill_after = 0
        first_at: float | None = None
        empty_at: float | None = None
        remaining = total
        while time.monotonic() - started < timeout_s:
            monitor.poll()
            arrived = telegram.count() + twilio.count()
            if arrived and first_at is None:
                first_at = time.monotonic()
            if killed is None and config.kill_at > 0 and arrived >= config.kill_at * total:
                killed = workers[0]
                killed.cpu_s = process_cpu_s(killed.pid)
                killed.proc.send_signal(signal.SIGKILL)
                kill_at, kill_after, killed.killed = time.monotonic(), arrived, True
                killed.proc.wait()
                say(f"killed worker {killed.number} (pid {killed.pid}) with SIGKILL after {arrived} messages")
            remaining = int(sync.zcard(keys.checkins()))
            if remaining == 0:
                empty_at = time.monotonic()
                break
            dead = [w for w in workers if not w.killed and w.proc.poll() is not None]
            if dead:
                raise RuntimeError(f"worker {dead[0].number} exited ({dead[0].proc.returncode}); see {dead[0].log}")
            time.sleep(POLL_S)
        say(f"schedule empty after {time.monotonic() - started:.1f} s" if empty_at else f"timed out: {remaining} left")
        grace_end = time.monotonic() + config.grace_s
        while True:
            monitor.poll()
            if time.monotonic() >= grace_end:
                break
            time.sleep(POLL_S)
        ended = time.monotonic()
        for w in workers:
            if not w.killed:
                w.cpu_s = process_cpu_s(w.pid)
        other_cpu = {name: process_cpu_s(pid) - cpu_before[name] for name, pid in others.items()}
        sent_sms = twilio.accepted()
        messages = {
            "telegram": [Message(str(chat), at, monitor.worker_of(port)) for chat, at, port in telegram.accepted()],
            "sms": [Message(to, at, monitor.worker_of(port)) for to, _from, at, port in sent_sms],
        }
        senders = {sender for _to, sender, _at, _port in sent_sms}
        if senders - {OUR_NUMBER}:
            raise RuntimeError(f"SMS from unexpected numbers: {senders}")
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.proc.terminate()
        for w in workers:
            try:
                w.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()
        sync.close()
        telegram.stop()
        twilio.stop()
    grants = {
        channel: sorted(t for member, t in found.items() if member not in monitor.given_back[channel])
        for channel, found in monitor.grants.items()
    }
    given_back = {channel: len(members) for channel, members in monitor.given_back.items()}
    result = Result(
        config,
        seeded,
        messages,
        grants,
        workers,
        started,
        first_at,
        empty_at,
        ended,
        remaining,
        killed,
        kill_at,
        kill_after,
        other_cpu,
    )
    result.duplicates = find_duplicates(result)
    result.given_back = given_back
    return result


def find_duplicates(result: Result) -> list[Duplicate]:
    lease = lease_s(result.config.lease)
    found = []
    for channel, messages in result.messages.items():
        by_recipient: dict[str, list[Message]] = defaultdict(list)
        for m in messages:
            by_recipient[m.to].append(m)
        for to, sent in by_recipient.items():
            if len(sent) < 2:
                continue
            sent.sort(key=lambda m: m.at)
            in_lease = (
                result.kill_at is not None and result.kill_at - lease <= sent[0].at <= result.kill_at + IN_FLIGHT_S
            )
            found.append(Duplicate(channel, to, [m.at for m in sent], sent[0].worker, in_lease))
    return found


# --- the report ------------------------------------------------------------------------------------------------


def redis_version() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        return "MISSING"
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout
    return next((part[2:] for part in out.split() if part.startswith("v=")), out.strip())


def print_machine(argv: Sequence[str], script: str) -> None:
    cores = f"{os.cpu_count()} cores"
    print(f"machine: {platform.platform()} {platform.machine()}, {cores}, Python {platform.python_version()}")
    packages = ", ".join(f"{name} {version(name)}" for name in PACKAGES)
    print(f"packages: {packages}, redis-server {redis_version()}")
    print(f"command: .venv/bin/python bench/{script} " + " ".join(argv))


def per_s(rate: float) -> str:
    return "-" if math.isnan(rate) else f"{rate:.1f}/s"


def share(fraction: float) -> str:
    return "-" if math.isnan(fraction) else f"{fraction:.1%}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def print_result(r: Result) -> None:
    c = r.config
    print(
        f"check-ins: {c.checkins} due ({len(r.seeded.telegram)} telegram, {len(r.seeded.sms)} sms), seeded in "
        f"{r.seeded.seconds:.1f} s; {c.workers} workers ({CONCURRENCY} check-ins in flight each), "
        f"lease {c.lease}; limits: telegram {c.telegram_rate:g}/s per bot, sms {c.sms_rate:g}/s per number"
    )
    if r.killed is not None and r.kill_at is not None:
        print(
            f"killed worker {r.killed.number} with SIGKILL after {r.kill_after} messages "
            f"({r.kill_at - r.started_at:.1f} s after the workers started)"
        )
    if r.empty_at is None:
        print(f"TIMED OUT: {r.remaining} check-ins still scheduled after {r.ended_at - r.started_at:.0f} s")
    else:
        first = f"first message after {r.first_at - r.started_at:.1f} s, " if r.first_at else ""
        print(f"schedule empty {r.wall_s:.1f} s after the workers started ({first}then a {c.grace_s:g} s grace)")
    print(
        f"  {'':<9}{'check-ins':>10}{'messages':>9}{'lost':>5}{'dup':>4}{'max in 1 s':>11}{'(granted)':>10}"
        f"{'steady rate':>13}{'of limit':>9}{'before kill':>13}{'after kill':>12}"
    )
    for channel in ("telegram", "sms"):
        steady, limit = r.steady_rate(channel), r.limit(channel)
        before = after = float("nan")
        if r.kill_at is not None:
            low, high = r.steady_window(channel)
            before = r.rate_between(channel, low, r.kill_at)
            after = r.rate_between(channel, r.kill_at, high)
        print(
            f"  {channel:<9}{len(r.seeded_for(channel)):>10}{r.delivered(channel):>9}{r.lost(channel):>5}"
            f"{r.duplicated(channel):>4}{r.max_in_window(channel):>11}{r.max_granted(channel):>10}"
            f"{per_s(steady):>13}{share(steady / limit):>9}{per_s(before):>13}{per_s(after):>12}"
        )
        if r.strangers(channel):
            print(f"  {channel}: {r.strangers(channel)} messages to recipients who were never seeded")
    spans = [f"{ch} {r.times(ch)[0] - r.started_at:.1f}-{r.times(ch)[-1] - r.started_at:.1f} s" for ch in r.messages]
    print("  messages arrived (seconds after the workers started): " + ", ".join(spans))
    for channel in ("telegram", "sms"):
        over = r.windows_over(channel)
        if over:
            where = ", ".join(f"{t:.1f}" for t in over[:8]) + (", ..." if len(over) > 8 else "")
            print(
                f"  {channel}: {len(over)} arrivals at the fake closed a 1-second window over the limit, at {where} s"
                f" after its first message (of {r.times(channel)[-1] - r.times(channel)[0]:.0f} s)"
            )
    print(
        "  max in 1 s: most messages in any 1-second window at the fake (granted: the same over the limiter's grants,"
        " less those given back unused);"
        " the limiter holds each grant until its send is over, so the steady rate is count / (1 s + send time);"
        " steady rate: the limit's count"
        " / the mean time that many consecutive messages took, from the 5th to the 95th percentile of the arrivals"
        " (not before 2.1 s); before/after kill: the same on either side of the SIGKILL"
    )
    back = ", ".join(f"{channel} {n}" for channel, n in r.given_back.items() if n)
    if back:
        print(f"  slots given back unused (a retried check-in found its message already sent): {back}")
    for channel in ("telegram", "sms"):
        delays = r.delays(channel)
        if delays:
            p50, p99 = delays[len(delays) // 2], delays[int(0.99 * (len(delays) - 1))]
            print(
                f"  {channel} grant-to-arrival (k-th grant to k-th arrival, an estimate): p50 {ms(p50)}, "
                f"p99 {ms(p99)}, max {ms(delays[-1])}"
            )
        else:
            print(f"  {channel}: {len(r.grants[channel])} grants seen for {r.delivered(channel)} messages")
    by_worker = Counter(m.worker for ms_ in r.messages.values() for m in ms_)
    parts = [f"{w.number}: {by_worker[w.number]}{' (killed)' if w.killed else ''}" for w in r.workers]
    print(f"messages by sending worker (from TCP source ports): {', '.join(parts)}, unattributed {by_worker[None]}")
    dups = r.duplicates
    killed_first = sum(1 for d in dups if r.killed is not None and d.first_worker == r.killed.number)
    in_lease = sum(1 for d in dups if d.first_in_killed_lease)
    print(
        f"duplicates: {len(dups)} check-ins got more than one message ({sum(len(d.times) - 1 for d in dups)} extra); "
        f"first sent by the killed worker: {killed_first}; first within its last lease before the kill: {in_lease}; "
        f"bound: the killed worker's claims in flight, {CONCURRENCY}"
    )
    for d in dups[:10]:
        again = ", ".join(f"{t - d.times[0]:+.1f} s" for t in d.times[1:])
        print(f"  {d.channel} {d.to}: worker {d.first_worker} at {d.times[0] - r.started_at:.1f} s, again {again}")
    done = sum(r.delivered(ch) for ch in ("telegram", "sms"))
    startup = [w.ready_cpu_s for w in r.workers if w.ready_cpu_s is not None]
    per_worker = ", ".join(f"{w.number}: {w.work_cpu_s:.1f} s" for w in r.workers)
    print(
        f"worker CPU after start-up: {r.worker_work_cpu_s:.1f} s ({per_worker}), "
        f"{r.worker_work_cpu_s / max(1, done) * 1000:.2f} ms per message, {r.worker_work_cpu_s / r.wall_s:.2f} cores "
        f"over the run; start-up {statistics.median(startup) if startup else float('nan'):.1f} s per worker"
    )
    print("other CPU over the run: " + ", ".join(f"{k} {v:.1f} s" for k, v in r.other_cpu.items()))
    logs = [w.log_counts() for w in r.workers]
    print(
        f"worker logs: {sum(x['errors'] for x in logs)} errors, {sum(x['warnings'] for x in logs)} warnings; "
        f"exit codes {[w.proc.returncode for w in r.workers]}"
    )


if __name__ == "__main__":  # a fake API's process: python tests/dispatch.py --serve NAME
    serve(sys.argv[2])
