"""A TLS terminator for tests: this build of sipp speaks UDP and TCP only, so a TLS leg is sipp
over TCP behind this relay (each accepted connection gets its own connection onward).

``TlsRelay(listen_port, forward_port, server=ctx)`` accepts TLS and forwards plain TCP (a TLS
carrier); ``TlsRelay(listen_port, forward_port, client=ctx)`` accepts plain TCP and forwards
over TLS (a TLS caller). Bounded: it stops with the test; loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl


class TlsRelay:
    def __init__(
        self,
        listen_port: int,
        forward_port: int,
        *,
        server: ssl.SSLContext | None = None,
        client: ssl.SSLContext | None = None,
    ) -> None:
        self.listen_port = listen_port
        self.forward_port = forward_port
        self.server_context = server
        self.client_context = client
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> TlsRelay:
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.listen_port, ssl=self.server_context
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(
                "127.0.0.1",
                self.forward_port,
                ssl=self.client_context,
                server_hostname="localhost" if self.client_context else None,
            )
        except OSError:
            writer.close()
            return
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.get_running_loop().create_task(self._pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()
