"""The instrumentation guide's example, run as written against a live server."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import Engine, select

from collector.schema import ATTEMPTS
from tests.conftest import LiveServer

DOC = (Path(__file__).resolve().parents[2] / "docs" / "instrumentation.md").read_text()


def test_the_helper_example_records_a_request_with_a_fallback(
    live_server: LiveServer, engine: Engine
) -> None:
    example = re.findall(r"```python\n(.*?)```", DOC, re.DOTALL)[0]
    program = "\n".join(
        [
            "def local_tagger(image):\n    return ['cat'], 0.41",
            "def cloud_tagger(image):\n    return ['cat', 'sofa'], 0.97",
            example,
            textwrap.dedent(
                """
                assert tag("photo.jpg") == ["cat", "sofa"]
                provider.shutdown()
                """
            ),
        ]
    )
    subprocess.run(
        [sys.executable, "-c", program],
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": live_server.url, "PATH": ""},
        check=True,
        timeout=60,
    )
    with engine.connect() as conn:
        rows = conn.execute(select(ATTEMPTS).order_by(ATTEMPTS.c.attempt)).mappings().all()
    assert [
        (r["tier"], r["attempt"], r["fallback"], r["fallback_reason"], r["confidence"])
        for r in rows
    ] == [("device", 1, True, "low_confidence", 0.41), ("cloud", 2, False, None, 0.97)]
    assert {(r["fleet"], r["device_model"], r["app_version"]) for r in rows} == {
        ("phones", "pixel-8", "4.2.0")
    }
    assert rows[0]["trace_id"] == rows[1]["trace_id"]  # one request, one trace
