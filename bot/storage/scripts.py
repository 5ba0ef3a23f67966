"""The Lua scripts (bot/storage/lua/*.lua, package data), run by EVALSHA, and batches of them in one round trip.

Each script is a file that opens with its named keys and arguments (`local conversation = KEYS[1]`). A script that
carries a batch (the conversation's commit) is its file put after the batch's scripts, each wrapped as a function of
its own KEYS and ARGV, and the runner of folded.lua: whole files, joined, never a template filled in.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

import redis.asyncio
from redis.exceptions import NoScriptError

Args = list[str | int | bytes]


@functools.cache
def source(name: str) -> str:
    """The text of bot/storage/lua/<name>.lua."""
    return (resources.files("bot.storage") / "lua" / f"{name}.lua").read_text(encoding="utf-8")


class Script:
    """One script file, by name: EVALSHA, with a fallback to EVAL after a restart or SCRIPT FLUSH. A script can also
    run inside another one, as part of a folded Batch (`Script.carrying`)."""

    def __init__(self, name: str, text: str | None = None) -> None:
        self.name = name
        self.source = text if text is not None else source(name)
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()

    @classmethod
    def carrying(cls, name: str, *ops: Script) -> Script:
        """The script `name` preceded by the scripts a Batch folded into its call may run (and `xadd`), each as a
        function of its own KEYS and ARGV, and folded.lua's `run_folded`, which it calls."""
        functions = [f"ops[{op.name!r}] = function(KEYS, ARGV)\n{op.source}end\n" for op in (XADD, *ops)]
        return cls(name, "local ops = {}\n" + "".join(functions) + source("folded") + source(name))

    async def __call__(self, client: redis.asyncio.Redis, keys: list[str], args: Args) -> Any:
        return await self.run(client.execute_command, keys, args)

    async def run(self, execute: Callable[..., Awaitable[Any]], keys: list[str], args: Args) -> Any:
        """Through `execute` (a client's execute_command)."""
        try:
            return await execute("EVALSHA", self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await execute("EVAL", self.source, len(keys), *keys, *args)


XADD = Script("xadd")


class Batch:
    """Scripts sent together in one round trip (a pipeline, not a transaction), run in order; or folded into another
    script's call (`folded`). The pipeline starts with a SCRIPT LOAD of each script it uses, so an EVALSHA never
    meets an empty script cache (after a Redis restart) halfway through: a retried script would run after commands
    queued behind it, out of order."""

    def __init__(self) -> None:
        self._ops: list[tuple[Script, list[str], Args]] = []

    def script(self, script: Script, keys: list[str], args: Args) -> None:
        self._ops.append((script, keys, args))

    def xadd(self, key: str, fields: dict[str, str], maxlen: int) -> None:
        self.script(XADD, [key], [maxlen, *(part for pair in fields.items() for part in pair)])

    def __len__(self) -> int:
        return len(self._ops)

    def folded(self) -> tuple[list[str], Args]:
        """The batch as the tail of another script's KEYS and ARGV, for folded.lua's `run_folded`: every op's keys,
        in order; then per op its name, key count, argument count and arguments."""
        names: list[str] = []
        args: Args = []
        for script, keys, op_args in self._ops:
            names += keys
            args += [script.name, len(keys), len(op_args), *op_args]
        return names, args

    async def run(self, client: redis.asyncio.Redis) -> list[object]:
        if not self._ops:
            return []
        scripts = {script.sha: script for script, *_ in self._ops}
        async with client.pipeline(transaction=False) as pipe:
            for loaded in scripts.values():
                pipe.script_load(loaded.source)
            for script, keys, args in self._ops:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            results: list[object] = (await pipe.execute(raise_on_error=False))[len(scripts) :]
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results
