"""Alerting: rules judge segments, alerts change state, hooks are told, reliably.

The flow follows the data, one module per step:

``rules`` (what is wrong now) → ``states`` (pending → firing → resolved, with ``for``
durations) → ``silences`` (mute) → ``dedup`` (tell once, again after the repeat
interval, and on recovery) → ``outbox`` (the notification row, written with the
state change) → ``sender`` (one signed HTTP attempt that says whether a failure is
retryable) → ``retry`` (backoff, ``Retry-After``, maximum age) → ``outbox`` (record).

Alertmanager hooks get ``batches`` of every alert they should know of, re-sent
while the alerts fire; ``destinations`` decides which addresses hooks may reach.
``evaluator`` runs one evaluation pass under the ``lease`` that lets one server at
a time evaluate; ``delivery`` runs one delivery pass; ``service`` loops both in the
server. ``queries`` holds the read functions the API, CLI and dashboard use.
"""
