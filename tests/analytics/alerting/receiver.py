"""A real HTTP receiver on loopback that records every request and answers from a script.

Each request takes the next :class:`Answer` of the script (the last one repeats).
An answer is a status with headers, or a hang: the receiver holds the request
without answering until released, then drops the connection, as a receiver
does when the sender dies mid-request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Answer:
    """What the receiver does with one request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = "ok"
    hang: bool = False


HANG = Answer(hang=True)


@dataclass
class Received:
    """One request as the receiver saw it, and what it answered (``None``: nothing)."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    answered: int | None = None

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    """The recording server; ``url`` is its base URL."""

    def __init__(self, script: list[Answer] | None = None) -> None:
        self.script = list(script or [Answer()])
        self.requests: list[Received] = []
        self.release = threading.Event()
        self.hanging = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                seen = Received(
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    at=time.monotonic(),
                )
                with receiver._lock:
                    answer = receiver.script[min(len(receiver.requests), len(receiver.script) - 1)]
                    receiver.requests.append(seen)
                if answer.hang:
                    receiver.hanging.set()
                    receiver.release.wait(30)
                    self.close_connection = True
                    return
                payload = answer.body.encode()
                # Recorded before the answer leaves, so the sender never sees it first.
                seen.answered = answer.status
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def accepted(self) -> list[Received]:
        """Requests answered with a 2xx."""
        return [r for r in self.requests if r.answered is not None and 200 <= r.answered < 300]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until ``count`` requests arrived; return them."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
            time.sleep(0.01)
        return list(self.requests)


@contextmanager
def running(script: list[Answer] | None = None) -> Iterator[Receiver]:
    """A started :class:`Receiver`, shut down afterwards."""
    receiver = Receiver(script)
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        receiver.server.shutdown()
        receiver.server.server_close()
