"""A small fleet with known attempts per tier, task, node and tokens, and prices for it.

Stored through the collector's real write path. Two hours, 10:00 and 11:00 on
2025-01-02; the window ends at 12:00.

task ``tag`` (4 requests, R1-R4), in the 10:00 hour:
  R1  device, served, 40 mJ; a cloud shadow (model small, 500 in / 250 out tokens)
  R2  device, served, 60 mJ
  R3  device fallback (20 mJ), then edge on node e1, served
  R4  device fallback (20 mJ), then cloud (model small, 1000 in / 500 out), served: an escalation
task ``chat`` (5 requests, R5-R9):
  R5-R7  edge on node e1, served (10:00 hour: e1 served 1 tag and 3 chat attempts)
  R8     cloud, model gpt-large, served (2000 in / 1000 out tokens)
  R9     11:00 hour: edge on node e2, fallback, then cloud (model small), served: an escalation

With :data:`PRICES` (cloud default 0.001 per call, 0.002 per 1k input and 0.004 per
1k output tokens; gpt-large 0.01 per call; edge 0.5 per node-hour; device free):

  tag   device  0                                       energy 140 mJ / 4 requests = 35
        edge    0.5 * 1/4 (e1's hour, shared)           = 0.125
        cloud   R4 0.001 + 0.002 + 0.002 = 0.005 (escalation), shadow 0.001 + 0.001 + 0.001
                = 0.003; 0.008 in all
        task    0.133, 33.25 per 1k requests
  chat  edge    0.5 * 3/4 + 0.5 (e2's hour, a fallback) = 0.875
        cloud   R8 0.01, R9 0.001 (escalation)          = 0.011
        task    0.886, 177.2 per 1k requests
  fleet 1.019 over 9 requests
"""

from __future__ import annotations

from sqlalchemy import Engine

from analytics.config import CostSettings
from collector.normalise import AttemptRow
from tests.analytics.attempts import attempt, store

H1 = 1735812000  # 2025-01-02T10:00:00Z
H2 = H1 + 3600
END_S = H1 + 2 * 3600
END_ISO = "2025-01-02T12:00:00Z"

PRICES = CostSettings.model_validate(
    [
        {"tier": "cloud", "per_call": 0.001, "per_1k_input_tokens": 0.002,
         "per_1k_output_tokens": 0.004},
        {"tier": "cloud", "model": "gpt-large", "per_call": 0.01},
        {"tier": "edge", "per_node_hour": 0.5},
        {"tier": "device", "per_call": 0.0},
    ]
)  # fmt: skip


def _request(at: int, *steps: dict[str, object]) -> list[AttemptRow]:
    trace = at.to_bytes(16, "big")
    return [attempt(at + i, trace=trace, **step) for i, step in enumerate(steps)]


def _device(**values: object) -> dict[str, object]:
    return {"tier": "device", "model": "tagger", "attempt": 1, **values}


def _edge(node: str, **values: object) -> dict[str, object]:
    return {"tier": "edge", "node": node, "device_model": None, **values}


def _cloud(model: str, **values: object) -> dict[str, object]:
    return {"tier": "cloud", "model": model, "node": "c1", "device_model": None, **values}


def fleet_rows() -> list[AttemptRow]:
    """The attempts described above."""
    fallback: dict[str, object] = {"fallback": True, "fallback_reason": "low_confidence"}
    tag: dict[str, object] = {"task": "tag"}
    chat: dict[str, object] = {"task": "chat"}
    return [
        *_request(H1 + 60, _device(energy_mj=40.0, **tag)),
        attempt(H1 + 61, task="tag", tier="cloud", model="small", node="c1", device_model=None,
                shadow=True, attempt=None, input_tokens=500, output_tokens=250),
        *_request(H1 + 120, _device(energy_mj=60.0, **tag)),
        *_request(
            H1 + 180,
            _device(energy_mj=20.0, **fallback, **tag),
            _edge("e1", model="tagger", attempt=2, **tag),
        ),
        *_request(
            H1 + 240,
            _device(energy_mj=20.0, **fallback, **tag),
            _cloud("small", attempt=2, input_tokens=1000, output_tokens=500, **tag),
        ),
        *(_request(H1 + 300 + 60 * i, _edge("e1", model="chat-s", attempt=1, **chat))[0]
          for i in range(3)),
        *_request(
            H1 + 600,
            _cloud("gpt-large", attempt=1, input_tokens=2000, output_tokens=1000, **chat),
        ),
        *_request(
            H2 + 60,
            _edge("e2", model="chat-s", attempt=1, **fallback, **chat),
            _cloud("small", attempt=2, **chat),
        ),
    ]  # fmt: skip


def write_priced_fleet(engine: Engine) -> list[AttemptRow]:
    """Store the fleet's attempts in one request; returns them."""
    rows = fleet_rows()
    store(engine, rows, received=END_S)
    return rows
