"""Slow senders hold a read slot, never a processing slot; a body too slow is answered 408."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import requests
from google.rpc import status_pb2
from sqlalchemy import Engine, func, select

from collector.schema import ATTEMPTS
from tests.conftest import LiveServer, make_settings
from tests.otlp import request, span
from tierwatch.app import create_app

PB = {"Content-Type": "application/x-protobuf"}


@contextmanager
def stalled_upload(port: int, declared: int = 100_000) -> Iterator[socket.socket]:
    """A connection that sends the headers and one byte of a body of ``declared`` bytes, then waits."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(
        b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-protobuf\r\n"
        + f"Content-Length: {declared}\r\n\r\n".encode()
        + b"\x0a"
    )
    try:
        yield sock
    finally:
        sock.close()


def _answer(sock: socket.socket) -> tuple[int, bytes]:
    """The status code and body of the one answer on ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head.split()[1]), body


def test_stalled_uploads_do_not_hold_up_other_exports(db_url: str, engine: Engine) -> None:
    settings = make_settings(db_url, **{"collector.body_timeout_seconds": 1.0})
    with LiveServer(create_app(settings, engine=engine, migrate=False)) as server:
        answers: list[tuple[int, bytes, float]] = []
        statuses: list[int] = []
        with ExitStack() as stack:
            opened = time.monotonic()
            stalled = [stack.enter_context(stalled_upload(server.port)) for _ in range(64)]

            def read_answers() -> None:
                for sock in stalled:
                    status, body = _answer(sock)
                    answers.append((status, body, time.monotonic() - opened))

            reader = threading.Thread(target=read_answers)
            reader.start()
            # Meanwhile, a well-connected sender keeps exporting; the four processing
            # slots are free for it, as the stalled bodies hold none.
            with requests.Session() as session:
                for n in range(1, 41):
                    body = request([span(n)]).SerializeToString()
                    resp = session.post(
                        f"{server.url}/v1/traces", data=body, headers=PB, timeout=30
                    )
                    statuses.append(resp.status_code)
            reader.join(30)
        assert statuses == [200] * 40
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(ATTEMPTS)).scalar_one() == 40
        assert len(answers) == 64
        assert {status for status, _, _ in answers} == {408}
        # answered after the deadline, not before
        assert min(at for _, _, at in answers) >= 1.0
        message = status_pb2.Status.FromString(answers[0][1]).message
        assert message == (
            "the request body did not arrive within 1 s; send it again on a better connection"
        )
        metrics = requests.get(f"{server.url}/metrics", timeout=30).text.splitlines()
        assert 'tierwatch_collector_requests_refused_total{reason="body_timeout"} 64.0' in metrics


def test_too_many_bodies_at_once_are_refused_with_503(db_url: str, engine: Engine) -> None:
    settings = make_settings(
        db_url,
        **{"collector.body_timeout_seconds": 5.0, "collector.max_concurrent_reads": 2},
    )
    with LiveServer(create_app(settings, engine=engine, migrate=False)) as server:
        with stalled_upload(server.port), stalled_upload(server.port):
            time.sleep(0.3)  # both bodies are now being read
            body = request([span(1)]).SerializeToString()
            resp = requests.post(f"{server.url}/v1/traces", data=body, headers=PB, timeout=30)
            assert resp.status_code == 503
            assert resp.headers["Retry-After"] == "2"
            assert status_pb2.Status.FromString(resp.content).message == (
                "Too many request bodies are being received at once; retry after the given delay."
            )
        # the stalled ones are gone: their slots are free again
        deadline = time.monotonic() + 10
        while True:
            resp = requests.post(f"{server.url}/v1/traces", data=body, headers=PB, timeout=30)
            if resp.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert resp.status_code == 200


def test_bytes_held_at_once_are_bounded(db_url: str, engine: Engine) -> None:
    settings = make_settings(
        db_url,
        **{"collector.body_timeout_seconds": 5.0, "collector.max_buffered_bytes": 4096},
    )
    with LiveServer(create_app(settings, engine=engine, migrate=False)) as server:
        big = request([span(n) for n in range(1, 60)]).SerializeToString()
        assert len(big) > 4096
        resp = requests.post(f"{server.url}/v1/traces", data=big, headers=PB, timeout=30)
        assert resp.status_code == 503
        assert status_pb2.Status.FromString(resp.content).message == (
            "the collector holds too many request bodies; retry later"
        )
        small = request([span(1)]).SerializeToString()
        assert (
            requests.post(f"{server.url}/v1/traces", data=small, headers=PB, timeout=30).status_code
            == 200
        )


def test_a_slow_json_body_is_answered_408_in_json(db_url: str, engine: Engine) -> None:
    settings = make_settings(db_url, **{"collector.body_timeout_seconds": 0.5})
    with LiveServer(create_app(settings, engine=engine, migrate=False)) as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        sock.sendall(
            b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 50\r\n\r\n{"
        )
        status, body = _answer(sock)
        sock.close()
        assert status == 408
        assert body.startswith(b"{") and b"did not arrive within 0.5 s" in body
