"""Stopping background tasks that talk to NATS.

On Python 3.11, ``asyncio.wait_for`` can swallow a cancellation that arrives just as the awaited
future completes (CPython gh-86296, fixed in 3.12). nats-py awaits requests, key-value puts and
fetches through ``wait_for``, so a loop that calls them may survive one ``cancel()`` and go on
forever — and whoever awaited it after cancelling waits forever too. Loops here therefore stop
on a flag *and* are cancelled until they end.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["cancel_and_wait"]


async def cancel_and_wait(task: asyncio.Task[object] | None, *, retry: float = 0.5) -> None:
    """Cancel ``task`` and wait until it has ended, cancelling again every ``retry`` seconds
    while it has not (a swallowed cancellation). Never raises the task's own error or its
    cancellation; a cancellation of the caller propagates."""
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=retry)
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()
