"""Real ``tierwatch serve`` processes: killed mid-delivery, and two sharing one PostgreSQL."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from analytics.alerting import lease
from analytics.alerting.times import to_ms
from collector.schema import ALERT_EVENTS, ALERTS, DELIVERIES, LEASES
from tests.analytics.alerting.conftest import SECRET
from tests.analytics.alerting.receiver import HANG, Answer, Receiver, running
from tests.conftest import free_port, wait_until_serving
from tests.otlp import request, span
from tierwatch.prune import PRUNER

pytestmark = pytest.mark.slow

HOOK_TIMEOUT = 3


def write_config(tmp_path: Path, receiver: Receiver) -> Path:
    path = tmp_path / "tierwatch.toml"
    path.write_text(
        f"""
[alerts]
evaluation_interval_seconds = 0.2
lease_seconds = 1.0
delivery_interval_seconds = 0.1
claim_seconds = {HOOK_TIMEOUT + 1}
backoff_initial_seconds = 0.1
degraded_rule = false
allowed_hosts = ["127.0.0.1"]

[[alerts.rules]]
name = "high_errors"
metric = "error_rate"
op = ">"
threshold = 0.5
min_attempts = 5

[[alerts.hooks]]
name = "ops"
url = "{receiver.url}/hook"
secret = "{SECRET}"
timeout_seconds = {HOOK_TIMEOUT}
"""
    )
    return path


class Server:
    """One ``tierwatch serve`` process."""

    def __init__(self, config: Path, db_url: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tierwatch",
                "--config",
                str(config),
                "serve",
                "--dev",
                "--port",
                str(self.port),
                "--db",
                db_url,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until_serving(self.port, self.proc)

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            headers = {"Content-Type": "application/x-protobuf"} if body else {}
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def post(self, first: int, count: int, *, error: bool) -> None:
        spans = [span(first + i, error=error) for i in range(count)]
        status, _ = self.call(
            "POST", "/v1/traces", request(spans, {"hybrid.fleet": "robots"}).SerializeToString()
        )
        assert status == 200

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    """Servers a test starts; all stopped at the end."""
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


def wait_until(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def delivery_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [
            dict(r) for r in conn.execute(select(DELIVERIES).order_by(DELIVERIES.c.id)).mappings()
        ]


def test_killed_mid_delivery_delivers_once_after_restart(
    tmp_path: Path, db_url: str, engine: Engine, servers: list[Server]
) -> None:
    # The receiver holds the first request without answering; the server is killed
    # while it waits, so that attempt is never accepted. The next answer is 200.
    with running([HANG, Answer(200)]) as receiver:
        config = write_config(tmp_path, receiver)
        first = Server(config, db_url)
        servers.append(first)
        first.post(1, 10, error=True)
        assert receiver.hanging.wait(20), "the notification was never sent"
        first.kill()
        receiver.release.set()
        (row,) = delivery_rows(engine)
        # written and claimed, not delivered: the outbox kept it
        assert (row["status"], row["attempts"], row["delivered_at"]) == ("pending", 1, None)
        servers.append(Server(config, db_url))
        delivered = wait_until(
            lambda: [r for r in delivery_rows(engine) if r["status"] == "delivered"],
            what="the delivery after the restart",
        )
        # several more evaluation and delivery passes: nothing is repeated
        time.sleep(1.5)
        requests = receiver.requests
    assert len(requests) == 2
    assert {r.webhook_id for r in requests} == {row["webhook_id"]}
    assert [r.webhook_id for r in receiver.accepted()] == [row["webhook_id"]]
    assert requests[0].body == requests[1].body
    assert json.loads(requests[1].body)["type"] == "alert.firing"
    (final,) = delivery_rows(engine)
    assert final == delivered[0]
    assert (final["status"], final["attempts"], final["last_status_code"]) == ("delivered", 2, 200)
    # one alert, fired once: the restarted server did not fire it again
    assert count(engine, ALERTS) == 1
    assert count(engine, ALERT_EVENTS) == 1


def holder_pid(engine: Engine) -> int | None:
    with engine.connect() as conn:
        holder = lease.current_holder(conn, name=lease.EVALUATOR, now=to_ms_now())
    return int(holder.split(":")[1]) if holder else None


def to_ms_now() -> int:
    from datetime import UTC, datetime

    return to_ms(datetime.now(UTC))


def evaluators(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(ALERTS.c.evaluated_by)).scalars())


# Several servers share one database on PostgreSQL.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_servers_on_one_postgresql_evaluate_once(
    tmp_path: Path, db_url: str, engine: Engine, servers: list[Server]
) -> None:
    with running([Answer(200)]) as receiver:
        config = write_config(tmp_path, receiver)
        servers += [Server(config, db_url), Server(config, db_url)]
        pids = {s.proc.pid: s for s in servers}
        servers[0].post(1, 10, error=True)
        wait_until(lambda: receiver.requests, what="the firing notification")
        # both servers run their loops for a while: still one notification, one state change
        time.sleep(1.5)
        assert len(receiver.requests) == 1
        assert (count(engine, ALERTS), count(engine, ALERT_EVENTS), count(engine, DELIVERIES)) == (
            1,
            1,
            1,
        )
        holder = holder_pid(engine)
        assert holder in pids
        (evaluated_by,) = evaluators(engine)
        assert int(evaluated_by.split(":")[1]) == holder
        # one evaluator lease for both servers (the pruning loop keeps a lease of its own)
        with engine.connect() as conn:
            names = [n for (n,) in conn.execute(select(LEASES.c.name).order_by(LEASES.c.name))]
        assert names.count(lease.EVALUATOR) == 1
        assert set(names) <= {lease.EVALUATOR, PRUNER}
        # the evaluating server dies; the other takes over once the lease expires
        pids[holder].kill()
        survivor = next(s for pid, s in pids.items() if pid != holder)
        wait_until(lambda: holder_pid(engine) == survivor.proc.pid, what="the hand-over")
        survivor.post(100, 40, error=False)
        wait_until(lambda: len(receiver.requests) == 2, what="the resolved notification")
        time.sleep(1.0)
        requests = list(receiver.requests)
    assert [json.loads(r.body)["type"] for r in requests] == ["alert.firing", "alert.resolved"]
    assert len({r.webhook_id for r in requests}) == 2
    (evaluated_by,) = evaluators(engine)
    assert int(evaluated_by.split(":")[1]) == survivor.proc.pid
    with engine.connect() as conn:
        events = conn.execute(
            select(ALERT_EVENTS.c.from_state, ALERT_EVENTS.c.to_state).order_by(ALERT_EVENTS.c.id)
        ).all()
    assert [tuple(e) for e in events] == [(None, "firing"), ("firing", "resolved")]
