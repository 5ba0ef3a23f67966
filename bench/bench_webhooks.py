"""Webhooks under load: the real server, served as `kneebot serve` serves it, against a bare Starlette + Redis floor.

Each target runs in its own uvicorn process on 127.0.0.1 (logging configured as `kneebot serve` does), with a private
redis-server and the fake Telegram Bot API in a process of its own, so every reply is delivered. Every conversation
is a new participant (a new chat, a new phone number) going from the first message through ten answers to an
assessment; Telegram answers with buttons where the question has them. The floor is a bare Starlette endpoint served
the same way doing one Redis GET and one pipelined SET+EXPIRE.

Per run: messages/s and p50/p99 latency with --concurrency clients (closed loop; the floor and the webhooks in turn
for --rounds rounds, each webhook compared with its round's floor pass), the server's CPU per message, then
p50/p99 at half the floor's measured rate for --paced-seconds (open loop, latency from each request's scheduled
time), and the cost of parsing a Telegram update (PTB's Update.de_json against bot.channels.telegram.parse_update).
Then the medians over runs.
Run: .venv/bin/python bench/bench_webhooks.py [--requests 3000] [--paced-seconds 6] [--concurrency 16] [--runs 3]
     [--rounds 3] [--profile] [--stacks] [--against REV]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import cProfile
import gc
import hashlib
import json
import os
import platform
import pstats
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp
import httpx
import redis.asyncio
import uvicorn
import uvloop
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from telegram import Update
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped, unused-ignore]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bot.app.logs import configure_logging  # noqa: E402
from bot.app.server import create_app  # noqa: E402
from bot.app.settings import Settings  # noqa: E402
from bot.app.wiring import run_service, settle_heap  # noqa: E402
from bot.channels.sms import PATH as SMS_PATH  # noqa: E402
from bot.channels.telegram import PATH as TELEGRAM_PATH  # noqa: E402
from bot.channels.telegram import parse_update  # noqa: E402
from bot.content.loader import load_content  # noqa: E402
from bot.storage import keys  # noqa: E402
from tests.integration.fakes.telegram_api import TOKEN, FakeTelegramAPI, callback_update, message_update  # noqa: E402
from tests.integration.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN  # noqa: E402
from tests.processes import TICKS, ReadyServer, process_cpu_s, ready_port, version  # noqa: E402
from tests.redis_server import RedisServer, command, stop_process  # noqa: E402

T = TypeVar("T")
SECRET = "bench-webhook-secret"
PUBLIC = "https://kneebot.example.org"
OUR_NUMBER = "+15005550006"
FLOOR_PATH = "/floor"
# A self-care conversation; Telegram presses the button where the question has one and types the rest.
SMS_SCRIPT = ["hi", "6", "4", "30", "4", "3", "5", "4", "1 week", "1", "3"]
TELEGRAM_SCRIPT = [
    "/start", "emergency_signs:none", "calf:no", "30", "knee_swelling:none", "start_how:gradual", "mechanical:none",
    "other_signs:none", "7", "course:better", "3",
]  # fmt: skip
# Webhooks also paced at half their own closed-loop rate (with a send queue: half the rate its replies were all sent at)
OWN_PACE = ("telegram", "sms", "telegram, inline")
WEB_ALONE = "telegram, webhook alone"
# Paced at half the floor's rate (#3's latency target), when their closed-loop rate can keep that pace
FLOOR_PACE = ("floor", "telegram", WEB_ALONE, "sms")
CONNECTIONS = 32  # the paced pass's connections: far more than its pace needs at these latencies
# Without sniffio, httpcore retries `import sniffio` (a failed import scans sys.path) on every request it makes.
PACKAGES = (
    "uvicorn", "uvloop", "httptools", "starlette", "aiohttp", "httpx", "httpcore", "sniffio", "python-telegram-bot",
    "redis", "hiredis",
)  # fmt: skip


# --- the processes under test ------------------------------------------------------------------------------


class PerChatTelegramAPI(FakeTelegramAPI):
    """Numbers each chat's messages from 1, as Telegram does in a private chat, so the load generator knows which
    message holds the keyboard it presses: every message in the scripts gets exactly one reply."""

    def __init__(self) -> None:
        super().__init__()
        self._per_chat: Counter[int] = Counter()

    async def _sendmessage(self, params: dict[str, Any], request: Request) -> Any:
        message = await super()._sendmessage(params, request)
        chat = message["chat"]["id"]
        with self._lock:
            del self.messages[(chat, message["message_id"])]
            self._per_chat[chat] += 1
            message["message_id"] = self._per_chat[chat]
            self.messages[(chat, message["message_id"])] = message
        return message


def telegram_api_app() -> Starlette:
    fake = PerChatTelegramAPI()

    async def stats(_: Request) -> Response:
        return JSONResponse(dict(Counter(f"{c.method} {c.status}" for c in list(fake.calls))))

    return Starlette(routes=[Route("/stats", stats), Mount("/", app=fake.app)])


def bench_settings(config: dict[str, Any]) -> Settings:
    """The server's (and worker's) settings. `rate`: Telegram's per-bot limit in the shared limiter (the real 30/s
    "as shipped"; far above the load otherwise, so the figure is the server's own cost); `db`: the Redis database, so
    that a target with a worker running and one without don't see each other's worker."""
    settings = Settings(
        redis_url=f"{config['redis_url']}/{config.get('db', 0)}",
        public_base_url=PUBLIC,
        telegram_bot_token=SecretStr(TOKEN),
        telegram_webhook_secret=SecretStr(SECRET),
        telegram_api_base_url=config["telegram_api"] + "/bot",
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=SecretStr(AUTH_TOKEN),
        twilio_from_number=OUR_NUMBER,
        twilio_api_base_url="http://127.0.0.1:9",  # webhooks answer in TwiML: nothing goes to the REST API
        telegram_rate_per_s=config.get("rate", 1_000_000),
        telegram_chat_rate_per_s=1_000,  # each bench conversation is one chat answering as fast as it can
        id_hash_secret=SecretStr("bench-only-id-hash-secret-0123456789abcdef"),
    )
    settings.check_for_server()
    return settings


def kneebot_app(config: dict[str, Any]) -> Starlette:
    if config.get("client") == "coredis":
        use_coredis(bench_settings(config).redis_url or "")
    return create_app(bench_settings(config), content=load_content())


def use_coredis(url: str) -> None:
    """The conversation store's per-message commands (MGET, the commit's EVALSHA, TIME) through coredis, a client
    that multiplexes commands over a few connections by design, instead of redis-py's pool (--against)."""
    import coredis
    import coredis.exceptions
    from redis.exceptions import NoScriptError

    from bot.storage import conversations

    client = coredis.Redis.from_url(url, decode_responses=False, stream_timeout=1.0)
    entered: list[asyncio.Task[Any]] = []

    async def execute(name: str, *args: Any) -> Any:
        if not entered:  # coredis wants its client entered once, in the loop that uses it
            entered.append(asyncio.ensure_future(client.__aenter__()))
        await entered[0]
        if name == "MGET":
            return await client.mget(args)
        if name == "TIME":
            at = await client.time()
            return int(at.timestamp()), at.microsecond
        script, count, *rest = args
        try:
            run = client.evalsha if name == "EVALSHA" else client.eval
            return await run(script, keys=rest[:count], args=rest[count:])
        except coredis.exceptions.NoScriptError:
            raise NoScriptError("NOSCRIPT") from None

    init = conversations.RedisConversationStore.__init__

    def with_coredis(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs, execute=execute)

    conversations.RedisConversationStore.__init__ = with_coredis  # type: ignore[method-assign]


def run_worker_child(config: dict[str, Any]) -> None:
    """Child process: `kneebot worker` with the bench's settings, until SIGTERM."""
    from bot.app.worker import run_worker

    settings = bench_settings(config)

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        content = load_content()
        settle_heap()  # as `kneebot worker` does
        print("READY 0", flush=True)
        await run_worker(settings, content, stop)

    run_service(main())  # as `kneebot worker` does


def floor_app(redis_url: str) -> Starlette:
    client = redis.asyncio.Redis.from_url(redis_url, socket_timeout=2)

    async def floor(request: Request) -> Response:
        body = await request.body()
        key = "bench:floor:" + hashlib.blake2b(body, digest_size=8).hexdigest()
        await client.get(key)
        async with client.pipeline(transaction=False) as pipe:
            pipe.set(key, body)
            pipe.expire(key, 3600)
            await pipe.execute()
        return Response(status_code=200)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    return Starlette(routes=[Route(FLOOR_PATH, floor, methods=["POST"])], lifespan=lifespan)


def serve(name: str, config: dict[str, Any]) -> None:
    """Child process: serve one app as `kneebot serve` does (uvicorn.run defaults, log level warning)."""
    if name != "telegram-api":
        configure_logging()
    if name == "worker":
        run_worker_child(config)
        return
    app: dict[str, Callable[[dict[str, Any]], Starlette]] = {
        "kneebot": kneebot_app,
        "floor": lambda c: floor_app(c["redis_url"]),
        "telegram-api": lambda _: telegram_api_app(),
    }
    served = app[name](config)
    if name != "telegram-api":
        settle_heap()  # as `kneebot serve` does once its app is built; the floor is served the same way
    # "pure": asyncio's loop and h11 (and, from Child, redis-py without hiredis, so no shared connection), for
    # --stacks; else uvicorn's defaults, which take uvloop and httptools as `kneebot serve` does.
    stack: dict[str, Any] = {"loop": "asyncio", "http": "h11"} if config.get("stack") == "pure" else {}
    server = ReadyServer(uvicorn.Config(served, host="127.0.0.1", port=0, log_level="warning", **stack))
    profile = cProfile.Profile() if config.get("profile") else None
    if profile is not None:
        # uvicorn re-raises the SIGTERM it caught once it has shut down; ignoring it then lets the stats be written.
        signal.signal(signal.SIGTERM, lambda *_: None)
        profile.enable()
    server.run()
    if profile is not None:
        profile.disable()
        profile.dump_stats(config["profile"])


class Child:
    def __init__(self, name: str, config: dict[str, Any], log_dir: Path, root: Path = ROOT) -> None:
        """`root`: the source tree to serve from (another commit's, extracted by `tree_of`)."""
        self.name = name
        self.log = log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
        script = str(root / "bench" / "bench_webhooks.py")
        args = [sys.executable, script, "--serve", name, "--config", json.dumps(config)]
        if config.get("stack") == "pure":  # redis-py falls back to its own parser and packer when hiredis is missing
            run = "import runpy, sys; sys.modules['hiredis'] = None; sys.argv = sys.argv[1:]; "
            args = [sys.executable, "-c", run + "runpy.run_path(sys.argv[0], run_name='__main__')", *args[1:]]
        if config.get("pooled"):  # a tree with bot/storage/multiplex.py, its shared connection off: redis-py's pool
            run = "import runpy, sys; import bot.storage.multiplex as m; m.HIREDIS = False; sys.argv = sys.argv[1:]; "
            args = [sys.executable, "-c", run + "runpy.run_path(sys.argv[0], run_name='__main__')", *args[1:]]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, cwd=root)
        port = ready_port(self.proc, 30)
        if port is None:
            self.stop()
            raise RuntimeError(f"{name} did not start; see {self.log}")
        self.url = f"http://127.0.0.1:{port}"

    def cpu_s(self) -> float:
        return process_cpu_s(self.proc.pid)

    def stop(self) -> None:
        stop_process(self.proc)

    def errors(self) -> int:
        text = self.log.read_text(errors="replace")
        return text.count(" ERROR ") + text.count("Traceback")


def wait_for_worker(redis: RedisServer, db: int, timeout_s: float = 20.0) -> None:
    """Until the worker on database `db` has announced itself (and the server's cached answer has caught up)."""
    import redis as sync_redis

    deadline = time.monotonic() + timeout_s
    with sync_redis.Redis.from_url(f"{redis.url}/{db}") as client:
        while not any(name.startswith(b"worker:") for name in client.zrange(keys.senders(), 0, -1)):
            if time.monotonic() > deadline:
                raise RuntimeError(f"no worker on db {db}")
            time.sleep(0.1)
    time.sleep(1.2)


def machine_cpu_s() -> float:
    """CPU time every process on the machine used (all of /proc/stat's cpu line but idle and iowait)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / TICKS


# --- the load --------------------------------------------------------------------------------------------------


@dataclass
class Conversation:
    n: int
    step: int = 0


@dataclass
class Target:
    name: str
    url: str
    path: str
    build: Callable[[Conversation], tuple[bytes, dict[str, str]]]
    script_length: int
    server: Child
    worker: Child | None = None  # drains the send queue (Telegram replies), when the target runs one
    queue: str | None = None  # that queue's Redis URL (with its database), to wait until it is empty
    defer_sending: bool = False  # the worker is stopped while the load runs, and drains the queue after it


class Ids:
    """Participants and message ids, unique across the whole bench (the fake Telegram API lives through all runs)."""

    def __init__(self) -> None:
        self.conversations = 0
        self.updates = 0

    def conversation(self) -> Conversation:
        self.conversations += 1
        return Conversation(self.conversations)

    def update(self) -> int:
        self.updates += 1
        return self.updates


def telegram_request(ids: Ids) -> Callable[[Conversation], tuple[bytes, dict[str, str]]]:
    def build(conversation: Conversation) -> tuple[bytes, dict[str, str]]:
        step, chat = TELEGRAM_SCRIPT[conversation.step], 1_000_000_000 + conversation.n
        if ":" in step:  # the button on the bot's latest message: one reply per earlier message, numbered from 1
            update = callback_update(ids.update(), chat, step, message_id=conversation.step)
        else:
            update = message_update(ids.update(), chat, step, message_id=conversation.step + 1)
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
        return json.dumps(update).encode(), headers

    return build


def sms_request(conversation: Conversation) -> tuple[bytes, dict[str, str]]:
    sid = "SM" + uuid.uuid4().hex
    form = {
        "ToCountry": "US", "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid, "SmsStatus": "received",
        "Body": SMS_SCRIPT[conversation.step], "To": OUR_NUMBER, "NumSegments": "1", "MessageSid": sid,
        "AccountSid": ACCOUNT_SID, "From": f"+1415{2_000_000 + conversation.n:07d}", "ApiVersion": "2010-04-01",
    }  # fmt: skip
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + SMS_PATH, form)
    return urlencode(form).encode(), {
        "X-Twilio-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


@dataclass
class Pass:
    latencies_s: list[float]
    wall_s: float
    failures: int
    cpu: dict[str, float] = field(default_factory=dict)  # cores used by each process while the pass ran
    drain_s: float = 0.0  # after the last answer, until the workers had sent every queued reply

    @property
    def rate(self) -> float:
        """Webhook answers per second."""
        return len(self.latencies_s) / self.wall_s

    @property
    def delivered_rate(self) -> float:
        """Messages per second until every reply was sent (the same as `rate` without a send queue)."""
        return len(self.latencies_s) / (self.wall_s + self.drain_s)

    def cpu_ms(self, process: str) -> float:
        """That process's CPU per message, over the pass and its drain."""
        return self.cpu.get(process, 0.0) * (self.wall_s + self.drain_s) / len(self.latencies_s) * 1000

    def pct_ms(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def send(client: aiohttp.ClientSession, target: Target, conversation: Conversation) -> bool:
    body, headers = target.build(conversation)
    conversation.step += 1
    try:
        async with client.post(target.url + target.path, data=body, headers=headers) as response:
            text = await response.text()
            return response.status == 200 and (target.path != SMS_PATH or "<Message>" in text)
    except (aiohttp.ClientError, TimeoutError):
        return False


def load_client(connections: int) -> aiohttp.ClientSession:
    """The load generator's HTTP client: aiohttp, a fifth of httpx's CPU per request here (bot/channels/
    telegram_http.py), so that on two shared cores the client takes less from the servers it measures."""
    connector = aiohttp.TCPConnector(limit=connections)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30))


async def open_connections(client: aiohttp.ClientSession, target: Target, count: int) -> None:
    """Connect before the clock starts: a pass measures requests, not TCP handshakes and the client's first use."""

    async def get() -> None:
        async with client.get(target.url + "/healthz") as response:
            await response.read()

    await asyncio.gather(*(get() for _ in range(count)))


async def closed_loop(target: Target, total: int, concurrency: int, ids: Ids) -> Pass:
    latencies: list[float] = []
    failures = 0
    remaining = total

    async def worker(client: aiohttp.ClientSession) -> None:
        nonlocal remaining, failures
        while remaining > 0:
            conversation = ids.conversation()
            while remaining > 0 and conversation.step < target.script_length:
                remaining -= 1
                started = time.perf_counter()
                ok = await send(client, target, conversation)
                latencies.append(time.perf_counter() - started)
                failures += not ok

    async with load_client(concurrency) as client:
        await open_connections(client, target, concurrency)
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return Pass(latencies, time.perf_counter() - started, failures)


async def paced(target: Target, total: int, rate: float, ids: Ids) -> Pass:
    """Open loop: request i is due at start + i/rate whatever happened before; its latency counts from then. Each
    message goes to a conversation whose previous message has been answered, else to a new one."""
    loop = asyncio.get_running_loop()
    ready: deque[Conversation] = deque()
    latencies: list[float] = []
    failures = 0

    # At most CONNECTIONS requests in the client at once; the rest wait here, in order, so a queue after any hiccup
    # stays cheap for the client. Time spent waiting here counts as latency.
    gate = asyncio.Semaphore(CONNECTIONS)

    async def one(client: aiohttp.ClientSession, conversation: Conversation, due: float) -> None:
        nonlocal failures
        async with gate:
            failures += not await send(client, target, conversation)
        latencies.append(loop.time() - due)
        if conversation.step < target.script_length:
            ready.append(conversation)

    async with load_client(CONNECTIONS) as client:
        await open_connections(client, target, CONNECTIONS)
        start = loop.time() + 0.05
        tasks = []
        for i in range(total):
            due = start + i / rate
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            conversation = ready.popleft() if ready else ids.conversation()
            tasks.append(asyncio.create_task(one(client, conversation, due)))
        await asyncio.gather(*tasks)
        return Pass(latencies, loop.time() - start, failures)


def drain(queue: str | None, timeout_s: float = 300.0) -> float:
    """Seconds until the send queue at `queue` is empty (its workers sent every reply); 0 without a queue."""
    if queue is None:
        return 0.0
    import redis as sync_redis

    started = time.monotonic()
    with sync_redis.Redis.from_url(queue) as client:
        while client.xlen(keys.send_queue()):
            if time.monotonic() - started > timeout_s:
                raise RuntimeError(f"the send queue at {queue} did not drain in {timeout_s:.0f} s")
            time.sleep(0.01)
    return time.monotonic() - started


def generate(load: Coroutine[Any, Any, T]) -> T:
    """Runs the load generator: on uvloop, with its garbage collector off during the pass (collected after). The
    generator shares the machine with what it measures; this way it takes less of the CPU, and its own pauses do not
    show up as the servers' latency (in a check on asyncio's loop with collections on, the floor's p99 at half its
    rate was 4-62 ms over four rounds; this way, 3-8 ms)."""
    gc.disable()
    try:
        return uvloop.run(load)
    finally:
        gc.enable()
        gc.collect()


def measured(target: Target, load: Coroutine[Any, Any, Pass], processes: dict[str, Callable[[], float]]) -> Pass:
    """Runs the load, waits until the target's workers have sent every queued reply, and records the cores each
    process used meanwhile; "other" is everything else on the machine (on a shared machine, a pass where it is high
    was starved and is worth discounting)."""
    processes = {**processes, "machine": machine_cpu_s}
    before = {name: cpu() for name, cpu in processes.items()}
    if target.defer_sending:
        assert target.worker is not None and target.queue is not None
        with paused(target.worker, target.queue):
            result = generate(load)
    else:
        result = generate(load)
    result.drain_s = drain(target.queue)
    span = result.wall_s + result.drain_s
    cores = {name: (cpu() - before[name]) / span for name, cpu in processes.items()}
    cores["other"] = max(0.0, cores.pop("machine") - sum(cores.values()))
    result.cpu = cores
    return result


@contextmanager
def paused(worker: Child, queue: str) -> Iterator[None]:
    """The worker stopped (SIGSTOP) meanwhile, with its heartbeat kept, so the server still queues the replies: the
    web process measured alone, as when the worker runs on a machine of its own."""
    import redis as sync_redis

    with sync_redis.Redis.from_url(queue) as client:
        now_ms = int(client.time()[0]) * 1000
        client.zadd(keys.senders(), {"worker:bench": now_ms + 600_000})
        os.kill(worker.proc.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(worker.proc.pid, signal.SIGCONT)
            client.zrem(keys.senders(), "worker:bench")  # the worker's own heartbeat takes over


# --- parsing an update -------------------------------------------------------------------------------------------


def parse_cost(samples: int) -> dict[str, float]:
    """Median µs per call over `samples` calls, for a text message and a button press."""
    updates = {
        "message": message_update(1, 42, "my calf is swollen"),
        "button": callback_update(2, 42, "calf:no", message_id=3),
    }
    costs: dict[str, float] = {}
    for kind, update in updates.items():
        parsers: dict[str, Callable[[dict[str, Any]], object]] = {
            "ptb": lambda u: Update.de_json(u, None),
            "ours": parse_update,
        }
        for name, parse in parsers.items():
            copies = [copy.deepcopy(update) for _ in range(samples)]
            timings = []
            for data in copies:
                started = time.perf_counter_ns()
                parse(data)
                timings.append(time.perf_counter_ns() - started)
            costs[f"{kind} {name}"] = statistics.median(timings) / 1000
    return costs


# --- one run, the report -------------------------------------------------------------------------------------


@dataclass
class Run:
    closed: dict[str, Pass]
    paced_rate: float
    paced: dict[str, Pass]
    own: dict[str, Pass]  # each webhook paced at half its own closed-loop rate
    parse_us: dict[str, float]
    deliveries: dict[str, int]
    server_errors: int
    paired: dict[str, list[tuple[float, float]]]  # per round, a webhook's (rate, capacity) over the floor's just before


def one_run(args: argparse.Namespace, redis: RedisServer, telegram_api: Child, ids: Ids, log_dir: Path) -> Run:
    redis.flushall()
    config = {"redis_url": redis.url, "telegram_api": telegram_api.url}
    floor = Child("floor", config, log_dir)
    kneebot = Child("kneebot", {**config, "db": 1}, log_dir)
    worker = Child("worker", {**config, "db": 1}, log_dir)
    inline = Child("kneebot", {**config, "db": 2}, log_dir)
    shipped = Child("kneebot", {**config, "db": 3, "rate": 30}, log_dir)
    shipped_worker = Child("worker", {**config, "db": 3, "rate": 30}, log_dir)
    children = (floor, kneebot, worker, inline, shipped, shipped_worker)
    redis_pid = int(command(redis.port, "INFO", "server").split(b"process_id:")[1].split()[0])
    wait_for_worker(redis, 1)
    wait_for_worker(redis, 3)
    try:
        tg, tg_len = telegram_request(ids), len(TELEGRAM_SCRIPT)
        targets = {
            "floor": Target("floor", floor.url, FLOOR_PATH, tg, tg_len, floor),
            "telegram": Target("telegram", kneebot.url, TELEGRAM_PATH, tg, tg_len, kneebot, worker, f"{redis.url}/1"),
            WEB_ALONE: Target(
                WEB_ALONE,
                kneebot.url,
                TELEGRAM_PATH,
                tg,
                tg_len,
                kneebot,
                worker,
                f"{redis.url}/1",
                defer_sending=True,
            ),
            "sms": Target("sms", kneebot.url, SMS_PATH, sms_request, len(SMS_SCRIPT), kneebot),
            "telegram, inline": Target("telegram, inline", inline.url, TELEGRAM_PATH, tg, tg_len, inline),
            "telegram, as shipped": Target(
                "telegram, as shipped",
                shipped.url,
                TELEGRAM_PATH,
                tg,
                tg_len,
                shipped,
                shipped_worker,
                f"{redis.url}/3",
            ),
        }

        def processes(target: Target) -> dict[str, Callable[[], float]]:
            found = {
                "server": target.server.cpu_s,
                "client": time.process_time,
                "telegram-api": telegram_api.cpu_s,
                "redis": lambda: process_cpu_s(redis_pid),
            }
            if target.worker is not None:
                found["worker"] = target.worker.cpu_s
            return found

        for target in targets.values():  # warm up: connections, caches, the first conversations
            generate(closed_loop(target, 5 * len(SMS_SCRIPT), args.concurrency, ids))
            drain(target.queue)
        closed = {}
        paired: dict[str, list[tuple[float, float]]] = {"telegram": [], WEB_ALONE: [], "sms": []}
        # The floor and the webhooks in turn, round after round: on a shared machine whose speed drifts, each webhook
        # is compared with the floor pass of its round (a minute apart at most), and the comparisons' median is the
        # figure. "telegram, webhook alone" is "telegram" with the worker stopped during the pass and draining the
        # queue after it, as when it runs on a machine of its own; its capacity counts the web process only.
        for _ in range(args.rounds):
            for name in ("floor", *paired):
                target = targets[name]
                load = closed_loop(target, args.requests, args.concurrency, ids)
                closed[name] = measured(target, load, processes(target))
                if name != "floor":
                    floor_pass, webhook = closed["floor"], closed[name]
                    own_ms = webhook.cpu_ms("server") + (0 if target.defer_sending else webhook.cpu_ms("worker"))
                    capacity = floor_pass.cpu_ms("server") / own_ms
                    paired[name].append((webhook.rate / floor_pass.rate, capacity))
        for name, target in targets.items():
            if name in closed:
                continue
            total = args.shipped_requests if name == "telegram, as shipped" else args.requests
            closed[name] = measured(target, closed_loop(target, total, args.concurrency, ids), processes(target))
        closed = {name: closed[name] for name in targets}
        rate = closed["floor"].rate / 2
        # A target slower than the pace builds an unbounded queue: its p99 would only measure the pass's length.
        paced_total = int(args.paced_seconds * rate)
        paced_passes = {
            name: measured(targets[name], paced(targets[name], paced_total, rate, ids), processes(targets[name]))
            for name in FLOOR_PACE
            if closed[name].rate >= rate
        }
        # And each webhook at a pace it can keep, replies sent included: its latency when it is not overloaded.
        own = {
            name: measured(
                targets[name],
                paced(targets[name], args.requests // 3, closed[name].delivered_rate / 2, ids),
                processes(targets[name]),
            )
            for name in OWN_PACE
        }
        deliveries = httpx.get(telegram_api.url + "/stats").json()
    finally:
        for child in children:
            child.stop()
    errors = sum(child.errors() for child in children)
    return Run(closed, rate, paced_passes, own, parse_cost(args.parse_samples), deliveries, errors, paired)


def print_run(number: int, run: Run) -> None:
    print(f"\nrun {number}")
    print(
        f"  {'closed loop':<22}{'msgs/s':>9}{'sent/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'failed':>8}"
        "  CPU/msg server+worker   cores used"
    )
    for name, result in run.closed.items():
        cores = " ".join(f"{k} {v:.2f}" for k, v in result.cpu.items())
        cpu = f"{result.cpu_ms('server'):.3f}" + (f"+{result.cpu_ms('worker'):.3f}" if "worker" in result.cpu else "")
        print(
            f"  {name:<22}{result.rate:>9.0f}{result.delivered_rate:>8.0f}{result.pct_ms(0.5):>9.2f}"
            f"{result.pct_ms(0.99):>9.2f}{result.failures:>8}  {cpu:>15} ms     {cores}"
        )
    print(f"  paced at {run.paced_rate:.0f}/s (half the floor's rate)")
    for name in FLOOR_PACE:
        if name not in run.paced:
            print(f"  {name:<22}skipped: its closed-loop rate is below this pace")
            continue
        result = run.paced[name]
        cores = " ".join(f"{k} {v:.2f}" for k, v in result.cpu.items())
        print(
            f"  {name:<22}{result.rate:>9.0f}{result.delivered_rate:>8.0f}{result.pct_ms(0.5):>9.2f}"
            f"{result.pct_ms(0.99):>9.2f}{result.failures:>8}                     {cores}"
        )
    print("  paced at half its own closed-loop rate (all replies sent)")
    for name, own in run.own.items():
        cores = " ".join(f"{k} {v:.2f}" for k, v in own.cpu.items())
        print(
            f"  {name:<22}{own.rate:>9.0f}{own.delivered_rate:>8.0f}{own.pct_ms(0.5):>9.2f}"
            f"{own.pct_ms(0.99):>9.2f}{own.failures:>8}                     {cores}"
        )
    for name, pairs in run.paired.items():
        rates = ", ".join(f"{r:.0%}" for r, _ in pairs)
        capacities = ", ".join(f"{c:.0%}" for _, c in pairs)
        print(f"  {name} over its round's floor pass, by round: msgs/s {rates}; capacity {capacities}")
    print("  parse (median µs): " + ", ".join(f"{k} {v:.1f}" for k, v in run.parse_us.items()))
    print(f"  fake Telegram API calls: {run.deliveries}; server log errors: {run.server_errors}")


def print_summary(runs: list[Run]) -> None:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    def cpu_ms(result: Pass, name: str = "floor") -> float:  # the web process alone's: its own CPU only
        return result.cpu_ms("server") + (0.0 if name == WEB_ALONE else result.cpu_ms("worker"))

    print(
        f"\nmedians over {len(runs)} runs (capacity: one core / server+worker CPU per message; {WEB_ALONE!r}: the"
        " server's)"
    )
    floor_rate = med([r.closed["floor"].rate for r in runs])
    floor_cpu = med([cpu_ms(r.closed["floor"]) for r in runs])
    for name in runs[0].closed:
        rate = med([r.closed[name].rate for r in runs])
        sent = med([r.closed[name].delivered_rate for r in runs])
        p50, p99 = med([r.closed[name].pct_ms(0.5) for r in runs]), med([r.closed[name].pct_ms(0.99) for r in runs])
        cpu = med([cpu_ms(r.closed[name], name) for r in runs])
        print(
            f"  {name:<24}{rate:>6.0f} msgs/s ({rate / floor_rate:>4.0%} of floor), all sent at {sent:>4.0f}/s"
            f"  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  CPU {cpu:6.3f} ms/msg"
            f"  capacity {1000 / cpu:5.0f}/s ({floor_cpu / cpu:>4.0%} of floor)"
        )
    rounds = sum(len(r.paired["sms"]) for r in runs)
    print(f"  each webhook over its round's floor pass ({rounds} rounds; median, and the range):")
    for name in runs[0].paired:
        pairs = [pair for r in runs for pair in r.paired[name]]
        rates, capacities = [p[0] for p in pairs], [p[1] for p in pairs]
        print(
            f"  {name:<24}msgs/s {med(rates):>4.0%} ({min(rates):.0%}-{max(rates):.0%})"
            f"   capacity {med(capacities):>4.0%} ({min(capacities):.0%}-{max(capacities):.0%})"
        )
    paced_rate = med([r.paced_rate for r in runs])
    print(f"  paced at {paced_rate:.0f}/s:")
    for name in FLOOR_PACE:
        passes = [r.paced[name] for r in runs if name in r.paced]
        if len(passes) < len(runs):
            print(f"  {name:<24}cannot keep this pace in {len(runs) - len(passes)} of {len(runs)} runs")
        if passes:
            p50, p99 = med([p.pct_ms(0.5) for p in passes]), med([p.pct_ms(0.99) for p in passes])
            each = ", ".join(f"{p.pct_ms(0.99):.1f}" for p in passes)
            print(f"  {name:<24}p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  (p99 by run: {each} ms)")
    print("  paced at half its own closed-loop rate (all replies sent):")
    for name in runs[0].own:
        p50, p99 = med([r.own[name].pct_ms(0.5) for r in runs]), med([r.own[name].pct_ms(0.99) for r in runs])
        pace = med([r.own[name].rate for r in runs])
        print(f"  {name:<24}p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  (at {pace:.0f}/s)")
    for key in runs[0].parse_us:
        print(f"  parse {key:<16}{med([r.parse_us[key] for r in runs]):7.1f} µs")


# --- profile -----------------------------------------------------------------------------------------------------


def profile(args: argparse.Namespace, redis: RedisServer, telegram_api: Child, ids: Ids, log_dir: Path) -> None:
    """One closed-loop pass per webhook with the server under cProfile; prints where its time goes."""
    for name, path in (("telegram", TELEGRAM_PATH), ("sms", SMS_PATH)):
        redis.flushall()
        stats_file = log_dir / f"{name}.prof"
        config = {"redis_url": redis.url, "telegram_api": telegram_api.url, "db": 1, "profile": str(stats_file)}
        child = Child("kneebot", config, log_dir)
        worker = Child("worker", {**config, "profile": None}, log_dir)  # Telegram replies go through the queue
        wait_for_worker(redis, 1)
        build, length = (
            (telegram_request(ids), len(TELEGRAM_SCRIPT)) if name == "telegram" else (sms_request, len(SMS_SCRIPT))
        )
        target = Target(name, child.url, path, build, length, child)
        try:
            generate(closed_loop(target, args.requests, args.concurrency, ids))
        finally:
            child.stop()
            worker.stop()
        print(f"\nprofile: {name} webhook, {args.requests} messages (cProfile in the server process)")
        stats = pstats.Stats(str(stats_file))
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("cumulative").print_stats(r"/bot/", 30)


def stacks(args: argparse.Namespace, redis: RedisServer, telegram_api: Child, ids: Ids, log_dir: Path) -> None:
    """The floor and the SMS webhook on the pure-Python stack (asyncio's loop, h11, redis-py's own parser; without
    hiredis the conversation store's commands go through the pool, not its shared connection) and on the one kneebot
    installs (uvloop, httptools, hiredis), in turn for --rounds rounds of closed-loop passes."""
    redis.flushall()
    config = {"redis_url": redis.url, "telegram_api": telegram_api.url, "db": 1}
    children = {
        (app, stack): Child(app, {**config, "stack": stack}, log_dir)
        for stack in ("pure", "installed")
        for app in ("floor", "kneebot")
    }
    targets = {
        (app, stack): (
            Target("floor", child.url, FLOOR_PATH, telegram_request(ids), len(TELEGRAM_SCRIPT), child)
            if app == "floor"
            else Target("sms", child.url, SMS_PATH, sms_request, len(SMS_SCRIPT), child)
        )
        for (app, stack), child in children.items()
    }
    results: dict[tuple[str, str], list[Pass]] = {key: [] for key in targets}
    try:
        for target in targets.values():
            generate(closed_loop(target, 5 * len(SMS_SCRIPT), args.concurrency, ids))
        for _ in range(args.rounds):
            for key, target in targets.items():
                load = closed_loop(target, args.requests, args.concurrency, ids)
                results[key].append(measured(target, load, {"server": target.server.cpu_s}))
    finally:
        for child in children.values():
            child.stop()
    print(f"\nserving stacks ({args.rounds} rounds of {args.requests} requests; medians, and the range)")
    for (app, stack), passes in results.items():
        rates = [p.rate for p in passes]
        cpu = [p.cpu_ms("server") for p in passes]
        name = f"{'floor' if app == 'floor' else 'sms'}, {stack}"
        print(
            f"  {name:<18}{statistics.median(rates):7.0f} msgs/s ({min(rates):.0f}-{max(rates):.0f})"
            f"   CPU {statistics.median(cpu):.3f} ms/msg ({min(cpu):.3f}-{max(cpu):.3f})"
        )


def tree_of(rev: str, into: Path) -> Path:
    """The source tree of commit `rev`, extracted (a script put before `bot` on sys.path serves that code)."""
    tree = into / f"tree-{rev}"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def storage(args: argparse.Namespace, redis: RedisServer, telegram_api: Child, ids: Ids, log_dir: Path) -> None:
    """The SMS webhook as commit --against serves it beside this tree's, and the floor, in turn for --rounds rounds
    of closed-loop passes; then, in each round, each paced at half that round's floor rate for --paced-seconds."""
    redis.flushall()
    config = {"redis_url": redis.url, "telegram_api": telegram_api.url}
    before, tree = f"sms @ {args.against}", tree_of(args.against, log_dir)
    children = {
        "floor": Child("floor", config, log_dir),
        "sms": Child("kneebot", {**config, "db": 1}, log_dir),
        before: Child("kneebot", {**config, "db": 2}, log_dir, root=tree),
    }
    if (tree / "bot" / "storage" / "multiplex.py").exists():  # that tree on redis-py's pool: the storage alone
        children[before + ", pooled"] = Child("kneebot", {**config, "db": 4, "pooled": True}, log_dir, root=tree)
    if args.coredis:
        children["sms, coredis"] = Child("kneebot", {**config, "db": 3, "client": "coredis"}, log_dir)
    targets = {
        name: (
            Target(name, child.url, FLOOR_PATH, telegram_request(ids), len(TELEGRAM_SCRIPT), child)
            if name == "floor"
            else Target(name, child.url, SMS_PATH, sms_request, len(SMS_SCRIPT), child)
        )
        for name, child in children.items()
    }
    closed: dict[str, list[Pass]] = {name: [] for name in targets}
    paced_passes: dict[str, list[Pass]] = {name: [] for name in targets}
    try:
        for target in targets.values():
            generate(closed_loop(target, 5 * len(SMS_SCRIPT), args.concurrency, ids))
        for _ in range(args.rounds):
            for name, target in targets.items():
                load = closed_loop(target, args.requests, args.concurrency, ids)
                closed[name].append(measured(target, load, {"server": target.server.cpu_s}))
            rate = closed["floor"][-1].rate / 2
            for name, target in targets.items():
                load = paced(target, int(args.paced_seconds * rate), rate, ids)
                paced_passes[name].append(measured(target, load, {"server": target.server.cpu_s}))
        errors = {name: child.errors() for name, child in children.items() if child.errors()}
    finally:
        for child in children.values():
            child.stop()
    med = statistics.median
    print(f"\nstorage, this tree against {args.against} ({args.rounds} rounds; medians, and the range)")
    for name in targets:
        cpu = [p.cpu_ms("server") for p in closed[name]]
        rates = [p.rate for p in closed[name]]
        p99 = [p.pct_ms(0.99) for p in paced_passes[name]]
        print(
            f"  {name:<22}{med(rates):7.0f} msgs/s ({min(rates):.0f}-{max(rates):.0f})"
            f"   CPU {med(cpu):.3f} ms/msg ({min(cpu):.3f}-{max(cpu):.3f})"
            f"   paced p99 {med(p99):6.2f} ms ({min(p99):.1f}-{max(p99):.1f})"
        )
    for name in (n for n in targets if n != "floor"):
        over = [p.cpu_ms("server") / f.cpu_ms("server") for p, f in zip(closed[name], closed["floor"], strict=True)]
        rate = [p.rate / f.rate for p, f in zip(closed[name], closed["floor"], strict=True)]
        print(
            f"  {name:<22}over its round's floor: CPU {med(over):.2f}x ({min(over):.2f}-{max(over):.2f}),"
            f" msgs/s {med(rate):.0%} ({min(rate):.0%}-{max(rate):.0%})"
        )
    print(f"  paced at half each round's floor rate: {', '.join(f'{p.rate:.0f}/s' for p in paced_passes['floor'])}")
    print(f"  server log errors (ERROR lines and tracebacks): {errors or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="per target and pass")
    parser.add_argument("--shipped-requests", type=int, default=330, help="for the rate-limited Telegram target")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="floor / webhook pairs per run")
    parser.add_argument(
        "--paced-seconds",
        type=int,
        default=6,
        help="length of each pass at half the floor's rate: long enough that one stall of the machine (tens of ms) "
        "is not the p99 of the pass by itself",
    )
    parser.add_argument("--parse-samples", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true", help="profile each webhook instead of timing it")
    parser.add_argument(
        "--stacks", action="store_true", help="compare the pure-Python serving stack with the installed one instead"
    )
    parser.add_argument(
        "--against", metavar="REV", help="compare the SMS webhook with commit REV's instead (the floor beside both)"
    )
    parser.add_argument("--coredis", action="store_true", help="with --against: also the SMS webhook on coredis")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, json.loads(args.config))
        return
    machine = f"{platform.platform()} {platform.machine()}, {os.cpu_count()} cores"
    print(f"machine: {machine}, Python {platform.python_version()}")
    print("packages: " + ", ".join(f"{name} {version(name)}" for name in PACKAGES))
    print("command: .venv/bin/python bench/bench_webhooks.py " + " ".join(sys.argv[1:]))
    ids = Ids()
    # The load generator's own garbage collections (a full one walks every imported module's objects) would show
    # up as latency; freezing what is loaded now keeps them short.
    gc.collect()
    gc.freeze()
    with tempfile.TemporaryDirectory(prefix="kneebot-bench-") as tmp, RedisServer() as redis_server:
        log_dir = Path(tmp)
        telegram_api = Child("telegram-api", {}, log_dir)
        try:
            if args.profile:
                profile(args, redis_server, telegram_api, ids, log_dir)
                return
            if args.stacks:
                stacks(args, redis_server, telegram_api, ids, log_dir)
                return
            if args.against:
                storage(args, redis_server, telegram_api, ids, log_dir)
                return
            runs = []
            for number in range(1, args.runs + 1):
                runs.append(one_run(args, redis_server, telegram_api, ids, log_dir))
                print_run(number, runs[-1])
            print_summary(runs)
        finally:
            telegram_api.stop()


if __name__ == "__main__":
    main()
