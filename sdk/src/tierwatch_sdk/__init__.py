"""Record hybrid-inference attempts with tierwatch's telemetry contract, on plain OpenTelemetry.

Application code on a device, an edge node or a cloud service imports this to
record each attempt without spelling the contract's attribute names::

    from tierwatch_sdk import attempt

    with attempt("device", "photo-tag", model="tagger", version="3.1.0") as a:
        labels, score = tagger(image)
        a.confidence = score
        if score < 0.6:
            a.fall_back("low_confidence")

Spans go wherever the application's ``TracerProvider`` sends them; on devices that
lose their network, :class:`DiskBufferingSpanExporter` keeps them on disk until
the network returns.
"""

from tierwatch_sdk.attempt import Attempt, attempt, record_attempt
from tierwatch_sdk.disk_buffer import DiskBufferingSpanExporter
from tierwatch_sdk.resource import fleet_resource

__all__ = [
    "Attempt",
    "DiskBufferingSpanExporter",
    "attempt",
    "fleet_resource",
    "record_attempt",
]
