"""The supervisor restarts a crashing child with growing delays, and says so."""

from __future__ import annotations

import asyncio
from pathlib import Path

from libs.platform.supervisor import ChildSpec, Supervisor


async def test_a_crashing_child_is_restarted_with_backoff_and_announced(tmp_path: Path) -> None:
    counter = tmp_path / "starts"
    said: list[str] = []
    spec = ChildSpec(
        name="crashy",
        module="tests.platform.crashing_child",
        env={"CRASH_COUNTER": str(counter)},
        ready_url="http://127.0.0.1:9/readyz",
    )
    supervisor = Supervisor([spec], log_dir=tmp_path / "logs", say=said.append)
    stop = asyncio.Event()
    running = asyncio.create_task(supervisor.run(stop))

    async def restarted_twice() -> None:
        while len(said) < 3:
            await asyncio.sleep(0.05)

    # Starts at 0 s, then after 1 s and 2 s more: three announcements in about 3 s.
    await asyncio.wait_for(restarted_twice(), timeout=20)
    stop.set()
    await asyncio.wait_for(running, timeout=20)

    assert int(counter.read_text()) >= 3
    assert "crashy exited with code 3" in said[0]
    assert "restarting in 1 s" in said[0]
    assert "restarting in 2 s" in said[1]
    assert "restarting in 4 s" in said[2]
