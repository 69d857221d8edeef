"""Running sipp as a real SIP peer in tests: bounded in calls and time, on 127.0.0.1."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

SCENARIOS = Path(__file__).with_name("scenarios")


def sipp_binary() -> str:
    binary = shutil.which("sipp")
    if binary is None:
        pytest.skip("sipp is not installed (scripts/test.sh installs Debian's sip-tester)")
    return binary


def scenario(name: str, tmp_path: Path, **values: object) -> Path:
    """A scenario file with ``__KEY__`` placeholders filled in."""
    text = (SCENARIOS / f"{name}.xml").read_text()
    for key, value in values.items():
        text = text.replace(f"__{key.upper()}__", str(value))
    path = tmp_path / f"{name}.xml"
    path.write_text(text)
    return path


@dataclass
class Sipp:
    process: asyncio.subprocess.Process
    args: list[str]

    async def finish(self, within: float = 30.0) -> tuple[int, str]:
        try:
            out, _ = await asyncio.wait_for(self.process.communicate(), within)
        except TimeoutError:
            self.process.kill()
            out, _ = await self.process.communicate()
        return self.process.returncode or 0, out.decode(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()


async def start_sipp(*args: str, port: int, cwd: Path, host: str = "127.0.0.1") -> Sipp:
    """``sipp <args>`` bound to ``host``:``port`` (a 127.0.0.0/8 address, so tests can act as
    several hosts); stops by itself (-timeout)."""
    argv = [
        sipp_binary(),
        *args,
        "-i",
        host,
        "-p",
        str(port),
        "-nostdin",
        "-timeout",
        "40s",
        "-timeout_error",
        "-trace_err",
    ]
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    return Sipp(process, argv)
