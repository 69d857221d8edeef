"""Runs the platform's services as child processes: start, watch, restart, stop.

Each child is ``python -m services.<name>`` in its own session (so a Ctrl-C in the terminal
reaches only the supervisor, which then stops the children in order) with
``PR_SET_PDEATHSIG`` set, so the children die with the supervisor even if it is killed outright.
A child that exits is restarted after a delay that doubles with each quick failure (1 s, 2 s,
4 s … 30 s) and resets once it has stayed up for a while; every restart is announced.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

__all__ = ["ChildSpec", "Supervisor"]

_PR_SET_PDEATHSIG = 1
MIN_BACKOFF, MAX_BACKOFF = 1.0, 30.0
#: A child up for this long has "recovered": its next failure restarts it after MIN_BACKOFF.
HEALTHY_AFTER = 30.0
STOP_TIMEOUT = 10.0


@dataclass
class ChildSpec:
    """One service to run: ``python -m services.<name>`` with ``env``, healthy at ``ready_url``."""

    name: str
    env: Mapping[str, str]
    ready_url: str
    module: str = ""

    def __post_init__(self) -> None:
        self.module = self.module or f"services.{self.name}"


@dataclass
class _Child:
    spec: ChildSpec
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    started_at: float = 0.0
    backoff: float = MIN_BACKOFF
    restarts: int = 0
    watcher: asyncio.Task[None] | None = field(default=None, repr=False)


def _die_with_parent() -> None:
    """Runs in the child before exec: receive SIGTERM when the supervisor dies."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the orderly shutdown still applies
        pass


class Supervisor:
    """Starts every :class:`ChildSpec`, restarts the ones that exit, stops them all on request."""

    def __init__(
        self,
        specs: list[ChildSpec],
        *,
        log_dir: Path,
        say: Callable[[str], None],
    ) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self._children = [_Child(spec, log_dir / f"{spec.name}.log") for spec in specs]
        self._say = say
        self._stopping = False
        self._started = asyncio.Event()
        #: Set by :meth:`wait_ready` when some child was not ready in time.
        self.failed_to_start = False

    async def run(self, stop: asyncio.Event) -> None:
        """Start every child, keep them running until ``stop`` is set, then stop them."""
        try:
            for child in self._children:
                await self._spawn(child)
                child.watcher = asyncio.create_task(
                    self._watch(child), name=f"watch-{child.spec.name}"
                )
            self._started.set()
            await stop.wait()
        finally:
            await self.shutdown()

    async def shutdown(self) -> None:
        """SIGTERM every child, SIGKILL what is still running after :data:`STOP_TIMEOUT`."""
        self._stopping = True
        for child in self._children:
            if child.watcher:
                child.watcher.cancel()
        running = [c for c in self._children if c.process and c.process.returncode is None]
        for child in running:
            assert child.process is not None
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in running:
            assert child.process is not None
            try:
                await asyncio.wait_for(child.process.wait(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                self._say(f"{child.spec.name} did not stop in {STOP_TIMEOUT:.0f} s: killing it")
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()
                await child.process.wait()

    async def _spawn(self, child: _Child) -> None:
        with child.log_path.open("ab") as log:
            child.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                child.spec.module,
                env={**os.environ, **child.spec.env},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        child.started_at = time.monotonic()

    async def _watch(self, child: _Child) -> None:
        while not self._stopping:
            assert child.process is not None
            code = await child.process.wait()
            if self._stopping:
                return
            uptime = time.monotonic() - child.started_at
            if uptime >= HEALTHY_AFTER:
                child.backoff = MIN_BACKOFF
            self._say(
                f"{child.spec.name} exited with code {code} after {uptime:.1f} s; "
                f"restarting in {child.backoff:.0f} s (log: {child.log_path})"
            )
            await asyncio.sleep(child.backoff)
            child.backoff = min(child.backoff * 2, MAX_BACKOFF)
            child.restarts += 1
            await self._spawn(child)

    async def wait_ready(self, stop: asyncio.Event, within: float) -> bool:
        """Wait until every child's ``/readyz`` answers 200 (or ``stop``, or ``within`` seconds)."""
        await self._started.wait()
        pending = {child.spec.name: child.spec.ready_url for child in self._children}
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=1.0) as client:
            while pending and not stop.is_set() and time.monotonic() < deadline:
                for name, url in list(pending.items()):
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(url)).status_code == 200:
                            del pending[name]
                if pending:
                    await asyncio.sleep(0.2)
        if pending:
            if not stop.is_set():
                self.failed_to_start = True
                self._say(f"not ready after {within:.0f} s: {', '.join(sorted(pending))}")
            return False
        return True
