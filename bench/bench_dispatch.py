"""Check-in dispatch under load: N due check-ins, three `kneebot worker` processes, one killed with SIGKILL midway.

The run itself is tests/dispatch.py (the integration tests run it scaled down); this prints the machine and the
result. Run: .venv/bin/python bench/bench_dispatch.py [--checkins 20000] [--telegram-rate 30] [--sms-rate 30]
[--lease 20s]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from tests.dispatch import Config, print_machine, print_result, run_dispatch  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--checkins", type=int, default=20_000, help="due check-ins, half Telegram, half SMS")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--telegram-rate", type=float, default=30.0, help="TELEGRAM_RATE_PER_S (Telegram's: 30)")
    parser.add_argument("--sms-rate", type=float, default=30.0, help="SMS_RATE_PER_S, per sending number")
    parser.add_argument("--lease", default="20s", help="CHECKIN_LEASE")
    parser.add_argument("--poll", type=float, default=1.0, help="WORKER_POLL_S")
    parser.add_argument("--kill-at", type=float, default=1 / 3, help="share of messages before the SIGKILL (0: none)")
    parser.add_argument("--grace", type=float, default=3.0, help="seconds to wait once the schedule is empty")
    parser.add_argument("--same-due", action="store_true", help="every check-in due at the same millisecond")
    parser.add_argument("--keep-logs", action="store_true", help="keep the worker logs (their directory is printed)")
    args = parser.parse_args()
    print_machine(sys.argv[1:], "bench_dispatch.py")
    config = Config(
        checkins=args.checkins,
        workers=args.workers,
        telegram_rate=args.telegram_rate,
        sms_rate=args.sms_rate,
        lease=args.lease,
        poll_s=args.poll,
        kill_at=args.kill_at,
        grace_s=args.grace,
        same_due=args.same_due,
    )
    log_dir = Path(tempfile.mkdtemp(prefix="kneebot-dispatch-"))
    try:
        with RedisServer() as server:
            result = run_dispatch(config, server.url, log_dir, verbose=True)
        print_result(result)
    finally:
        if args.keep_logs:
            print(f"logs: {log_dir}")
        else:
            shutil.rmtree(log_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
