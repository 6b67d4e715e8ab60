"""One delivery pass: claim due notifications, send each, decide retries, record outcomes.

The stages stay apart: :mod:`outbox` claims and records, :mod:`sender` makes one
signed attempt and says whether a failure is retryable, :mod:`retry` alone picks
the next attempt's time or gives up. Notifications are sent concurrently, up to
``alerts.delivery_concurrency`` at a time.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Engine

from analytics.alerting import outbox
from analytics.alerting.config import AlertsSettings
from analytics.alerting.destinations import HostPolicy
from analytics.alerting.retry import Backoff, expired, next_attempt_at
from analytics.alerting.sender import Outcome, send
from analytics.alerting.signing import signed_headers
from analytics.alerting.urls import BadHookUrl, check_url
from analytics.durations import parse_duration

log = logging.getLogger(__name__)

#: The send stage: (url, body, headers, timeout, policy) → outcome.
Send = Callable[..., Outcome]


@dataclass(frozen=True)
class Attempted:
    """What one attempt of one notification came to, as recorded."""

    delivery_id: int
    webhook_id: str
    status: str
    status_code: int | None
    error: str | None
    next_attempt_at: int | None


def backoff(settings: AlertsSettings) -> Backoff:
    """The retry policy of the settings."""
    return Backoff(
        initial=settings.backoff_initial_seconds,
        maximum=settings.backoff_max_seconds,
        max_age=parse_duration(settings.max_age).total_seconds(),
    )


def deliver_due(
    engine: Engine,
    settings: AlertsSettings,
    *,
    holder: str,
    clock: Callable[[], int],
    rng: random.Random,
    ids: list[int] | None = None,
    sender: Send = send,
) -> list[Attempted]:
    """Send every due notification once (only ``ids`` when given); return what happened."""
    claimed = outbox.claim(
        engine,
        holder=holder,
        now=clock(),
        claim_ms=int(settings.claim_seconds * 1000),
        limit=settings.delivery_concurrency,
        ids=ids,
    )
    if not claimed:
        return []
    policy = backoff(settings)

    def one(item: outbox.Claimed) -> Attempted:
        return _attempt(
            engine, settings, item, policy, holder=holder, clock=clock, rng=rng, sender=sender
        )

    if len(claimed) == 1:
        return [one(claimed[0])]
    with ThreadPoolExecutor(max_workers=len(claimed), thread_name_prefix="delivery") as pool:
        return list(pool.map(one, claimed))


def _attempt(
    engine: Engine,
    settings: AlertsSettings,
    item: outbox.Claimed,
    policy: Backoff,
    *,
    holder: str,
    clock: Callable[[], int],
    rng: random.Random,
    sender: Send,
) -> Attempted:
    next_at: int | None = None
    if expired(policy, created_at=item.created_at, now=clock()):
        # e.g. every server was down for longer than the maximum age
        outcome = Outcome(delivered=False, retryable=False, error="not sent within alerts.max_age")
        status = outbox.DEAD
    else:
        outcome = _send_one(settings, item, clock=clock, sender=sender)
        if outcome.delivered:
            status = outbox.DELIVERED
        elif outcome.retryable:
            next_at = next_attempt_at(
                policy,
                attempts=item.attempts,
                created_at=item.created_at,
                now=clock(),
                retry_after=outcome.retry_after,
                rng=rng,
            )
            status = outbox.PENDING if next_at is not None else outbox.DEAD
        else:
            status = outbox.FAILED
    recorded = outbox.record(
        engine,
        delivery_id=item.id,
        holder=holder,
        status=status,
        now=clock(),
        status_code=outcome.status_code,
        error=outcome.error,
        next_attempt_at=next_at,
    )
    if not recorded:
        log.warning("delivery %d: claim lost before its outcome was recorded", item.id)
    elif status != outbox.DELIVERED:
        log.warning("delivery %d to hook %s: %s (%s)", item.id, item.hook, status, outcome.error)
    return Attempted(
        delivery_id=item.id,
        webhook_id=item.webhook_id,
        status=status,
        status_code=outcome.status_code,
        error=outcome.error,
        next_attempt_at=next_at,
    )


def _send_one(
    settings: AlertsSettings, item: outbox.Claimed, *, clock: Callable[[], int], sender: Send
) -> Outcome:
    """Sign and send one notification to its hook, as configured now."""
    hook = settings.hook(item.hook)
    if hook is None:
        error = f"hook {item.hook!r} is no longer configured"
        return Outcome(delivered=False, retryable=False, error=error)
    try:
        check_url(hook.url, settings.allowed_hosts)
    except BadHookUrl as exc:
        return Outcome(delivered=False, retryable=False, error=str(exc))
    body = item.body.encode()
    headers = {
        **hook.request_headers,
        **signed_headers(hook.signing_secret or None, item.webhook_id, clock() // 1000, body),
    }
    return sender(
        hook.endpoint,
        body,
        headers,
        timeout=hook.timeout_seconds,
        policy=HostPolicy.of(settings.allowed_hosts),
    )
