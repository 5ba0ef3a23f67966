"""The Redis side of follow-up, against a real redis-server: leases, deterministic check-in ids, cancellation with
its audit entry, one open case per person, and scripts surviving a SCRIPT FLUSH."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import redis.asyncio

from bot.storage import keys
from bot.storage.audit import AuditLog
from bot.storage.cases import CaseStore
from bot.storage.checkins import Address, CheckIn, CheckInStore
from bot.storage.schedule import LeasedSchedule, millis
from bot.storage.scripts import Batch

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


def checkin(participant: str = "sms-abc", seq: int = 1, due: datetime = NOW) -> CheckIn:
    return CheckIn(
        participant=participant,
        seq=seq,
        level="self_care",
        address=Address(channel="sms", to="+12125550123"),
        zone="America/New_York",
        due_at=due,
    )


def run(redis_url: str, scenario: Callable[[redis.asyncio.Redis], Awaitable[None]]) -> None:
    async def main() -> None:
        async with redis.asyncio.Redis.from_url(redis_url) as client:
            await scenario(client)

    asyncio.run(main())


async def audit_kinds(client: redis.asyncio.Redis) -> list[tuple[str, dict[str, str]]]:
    rows = [row async for row in AuditLog(client).export()]
    return [(row["kind"], {k: v for k, v in row.items() if k not in ("id", "kind", "at")}) for row in rows]


def test_a_claim_leases_and_only_the_holder_can_settle_it(redis_url: str) -> None:
    async def scenario(client: redis.asyncio.Redis) -> None:
        schedule = LeasedSchedule(client, keys.checkins())
        await client.zadd(keys.checkins(), {"a": millis(NOW), "b": millis(NOW + timedelta(hours=1))})
        (claim,) = await schedule.claim(NOW, LEASE, 10)
        assert claim.id == "a" and claim.lease == millis(NOW + LEASE)
        assert await schedule.claim(NOW + LEASE - timedelta(seconds=1), LEASE, 10) == [
            c for c in await schedule.claim(NOW, LEASE, 10) if c.id == "a"
        ]  # nothing new is due before the lease runs out (and "a" is not due again)
        retaken = await schedule.claim(NOW + LEASE, LEASE, 10)  # the holder died: it comes due again
        assert [c.id for c in retaken] == ["a"]
        assert not await schedule.finish(claim)  # the first holder's claim has lapsed: it cannot remove the new one
        assert await schedule.finish(retaken[0])
        assert await client.zrange(keys.checkins(), 0, -1) == [b"b"]

    run(redis_url, scenario)


def test_checkin_ids_are_deterministic_and_cancel_removes_everything(redis_url: str) -> None:
    async def scenario(client: redis.asyncio.Redis) -> None:
        store = CheckInStore(client)
        assert await store.add(checkin(seq=1), NOW)
        assert not await store.add(checkin(seq=1, due=NOW + timedelta(days=1)), NOW)  # scheduling twice is a no-op
        assert await store.add(checkin(seq=2), NOW)
        assert [c.seq for c in await store.pending_for("sms-abc")] == [1, 2]
        assert (await store.pending_for("sms-abc"))[0].due_at == NOW
        batch = Batch()
        audit = AuditLog(client)
        store.cancel_to(batch, "sms-abc", audit.args("checkins_cancelled", {"reason": "stop"}, NOW))
        store.cancel_to(batch, "sms-abc", audit.args("checkins_cancelled", {"reason": "stop"}, NOW))
        assert await batch.run(client) == [2, 0]
        assert await audit_kinds(client) == [("checkins_cancelled", {"reason": "stop", "count": "2"})]
        assert await client.keys("kneebot:v1:checkin*") == []

    run(redis_url, scenario)


def test_scripts_run_again_after_a_script_flush(redis_url: str) -> None:
    async def scenario(client: redis.asyncio.Redis) -> None:
        store = CheckInStore(client)
        assert await store.add(checkin(seq=1), NOW)
        await client.script_flush()
        batch = Batch()
        store.add_to(batch, checkin(seq=2), NOW, AuditLog(client).args("checkin_scheduled", {"seq": "2"}, NOW))
        AuditLog(client).add_to(batch, "assessment", {"level": "self_care"}, NOW)
        results = await batch.run(client)
        assert results[0] == 1 and isinstance(results[1], bytes)  # scheduled (by EVAL), and the entry's stream id
        assert [k for k, _ in await audit_kinds(client)] == ["checkin_scheduled", "assessment"]
        assert await client.script_flush()
        assert await store.cancel("sms-abc") == 2

    run(redis_url, scenario)


def test_one_open_case_per_person_raised_only_upwards(redis_url: str) -> None:
    async def scenario(client: redis.asyncio.Redis) -> None:
        cases = CaseStore(client)
        common = {"findings": (), "channel": "sms", "contact": None, "now": NOW}
        first, what = await cases.open("sms-abc", level="urgent", reason="assessment", red_flags=("clot",), **common)
        assert what == "opened"
        again, what = await cases.open("sms-abc", level="soon", reason="human", red_flags=(), **common)
        assert (again, what) == (first, "same")
        raised, what = await cases.open("sms-abc", level="emergency", reason="breathing", red_flags=("sob",), **common)
        assert (raised, what) == (first, "raised")
        case = await cases.get(first)
        assert case is not None and case.level == "emergency" and case.red_flags == ("clot", "sob")
        other, what = await cases.open("sms-xyz", level="urgent", reason="assessment", red_flags=(), **common)
        assert other != first and what == "opened"
        assert await cases.acknowledge(first, "Ana", NOW) == "open"
        assert await cases.acknowledge(first, "Ben", NOW) == "acknowledged"  # a second press changes nothing
        assert (await cases.get(first)).acknowledged_by == "Ana"  # type: ignore[union-attr]
        assert await cases.resolve(first, "Ana", NOW) == "acknowledged"
        assert [c.id for c in await cases.unresolved()] == [other]
        # Resolved: the person's next escalation is a new case.
        new, what = await cases.open("sms-abc", level="urgent", reason="assessment", red_flags=(), **common)
        assert new != first and what == "opened"

    run(redis_url, scenario)


def test_a_deleted_persons_case_keeps_nothing_of_them_and_is_due_for_one_last_notice(redis_url: str) -> None:
    async def scenario(client: redis.asyncio.Redis) -> None:
        cases = CaseStore(client)
        common = {"red_flags": ("short_of_breath",), "findings": (), "channel": "sms"}
        case_id, _ = await cases.open(
            "sms-abc", level="emergency", reason="emergency", contact="+12125550123", now=NOW, **common
        )
        await cases.claim_pages(NOW, LEASE, 10)  # the first page is out: the next one is a deadline away
        assert await cases.forget("sms-abc", NOW + timedelta(minutes=1)) == case_id
        stored = await client.hgetall(keys.case(case_id))
        assert b"contact" not in stored and b"participant" not in stored
        assert b"sms-abc" not in b"".join(stored.values()) and b"2125550123" not in b"".join(stored.values())
        case = await cases.get(case_id)
        assert case is not None and case.deleted_at == NOW + timedelta(minutes=1) and case.status == "open"
        # Due at once in the pager's schedule, for the notice that replaces the next page.
        assert [c.id for c in await cases.claim_pages(NOW + timedelta(minutes=1), LEASE, 10)] == [case_id]
        assert not await client.exists(keys.open_case("sms-abc"))
        assert await cases.forget("sms-abc", NOW) is None  # nothing left to forget
        # A later escalation of the same person opens a new case.
        again, what = await cases.open("sms-abc", level="urgent", reason="human", contact=None, now=NOW, **common)
        assert what == "opened" and again != case_id

    run(redis_url, scenario)


def test_a_resolved_case_keeps_no_number_and_no_participant(redis_url: str) -> None:
    async def scenario(client: redis.asyncio.Redis) -> None:
        cases = CaseStore(client)
        case_id, _ = await cases.open(
            "sms-abc",
            level="urgent",
            reason="assessment",
            red_flags=(),
            findings=(("calf_swelling_one_side", "True"),),
            channel="sms",
            contact="+12125550123",
            now=NOW,
        )
        assert await cases.resolve(case_id, "Dr A", NOW) == "open"
        stored = await client.hgetall(keys.case(case_id))
        assert b"contact" not in stored and b"participant" not in stored
        assert stored[b"findings"] and stored[b"status"] == b"resolved"  # what staff decided on stays, 90 days

    run(redis_url, scenario)
