"""The bundled nats-server launcher: it starts, reports where, stops, and fails clearly."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from libs.platform.natsd import NatsServer, NatsServerError, find_nats_server, free_port


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_find_nats_server_returns_the_bundled_executable() -> None:
    binary = find_nats_server()
    assert binary.name == "nats-server"
    assert os.access(binary, os.X_OK)


def test_start_serves_jetstream_and_stop_leaves_no_process(tmp_path: Path) -> None:
    server = NatsServer(store_dir=tmp_path / "js", port=0, monitoring_port=0)
    with server:
        pid = server.pid
        assert pid is not None
        assert server.running
        assert server.port > 0
        assert server.url == f"nats://127.0.0.1:{server.port}"
        assert server.monitoring_url == f"http://127.0.0.1:{server.monitoring_port}"
        # The client port accepts connections (start() also proved JetStream answers).
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
        assert (tmp_path / "js" / "jetstream").is_dir()
    assert not server.running
    assert server.pid is None
    assert _process_gone(pid)
    server.stop()  # idempotent


def test_server_listens_on_the_configured_port(tmp_path: Path) -> None:
    port = free_port()
    with NatsServer(store_dir=tmp_path, port=port) as server:
        assert server.port == port
        assert server.url == f"nats://127.0.0.1:{port}"


def test_a_store_dir_that_is_a_file_gives_a_clear_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    server = NatsServer(store_dir=not_a_dir, port=0)
    with pytest.raises(NatsServerError, match="storage directory is not a directory") as err:
        server.start()
    assert "exited with status" in str(err.value)
    assert "--- last lines of its log ---" in str(err.value)
    assert not server.running


def test_an_occupied_port_gives_a_clear_error_and_no_process(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        server = NatsServer(store_dir=tmp_path, port=port)
        with pytest.raises(NatsServerError, match="address already in use"):
            server.start()
    assert not server.running


def test_a_port_held_by_another_nats_server_is_not_mistaken_for_ours(
    tmp_path: Path,
) -> None:
    with NatsServer(store_dir=tmp_path / "first", port=0) as first:
        second = NatsServer(store_dir=tmp_path / "second", port=first.port)
        with pytest.raises(NatsServerError, match="address already in use"):
            second.start()
        assert first.running


def test_start_twice_is_refused(tmp_path: Path) -> None:
    with (
        NatsServer(store_dir=tmp_path, port=0) as server,
        pytest.raises(NatsServerError, match="already started"),
    ):
        server.start()


def test_a_missing_binary_gives_a_clear_error(tmp_path: Path) -> None:
    server = NatsServer(store_dir=tmp_path, port=0, binary=tmp_path / "no-such-binary")
    with pytest.raises(NatsServerError, match="could not run"):
        server.start()


def test_log_file_receives_the_server_output(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "nats.log"
    with NatsServer(store_dir=tmp_path / "js", port=0, log_file=log) as server:
        assert "Server is ready" in server.log_tail()
    assert "Server is ready" in log.read_text()


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path: Path) -> None:
    # A stand-in "server" that ignores SIGTERM: stop() must still end it, by its pid only.
    fake = tmp_path / "stubborn"
    pid_file = tmp_path / "stubborn.pid"
    fake.write_text(
        f"#!/bin/sh\necho $$ > {pid_file}\ntrap '' TERM\nwhile true; do sleep 0.05; done\n"
    )
    fake.chmod(0o755)
    server = NatsServer(
        store_dir=tmp_path, port=0, binary=fake, start_timeout=0.3, stop_timeout=0.3
    )
    started = time.monotonic()
    with pytest.raises(NatsServerError, match="did not become ready"):
        server.start()
    assert time.monotonic() - started < 5
    assert not server.running
    assert _process_gone(int(pid_file.read_text()))
