"""The resource that says who sends the spans, with the contract's resource attribute names."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.resources import Resource

from tierwatch_sdk import attributes as keys


def fleet_resource(
    *,
    service_name: str,
    fleet: str,
    service_version: str | None = None,
    device_id: str | None = None,
    device_model: str | None = None,
    os_name: str | None = None,
    os_version: str | None = None,
    region: str | None = None,
    node: str | None = None,
    environment: str | None = None,
    **extra: Any,
) -> Resource:
    """A :class:`Resource` for one sender: a device, an edge node or a cloud service.

    ``device_model`` is the hardware class (``device.model.identifier``), ``node``
    the edge or cloud node's name. Attributes left ``None`` are omitted; ``extra``
    adds others (the collector keeps only those its operator allow-lists).
    Like ``Resource.create``, this merges the SDK's own attributes and
    ``OTEL_RESOURCE_ATTRIBUTES``; the values given here win.
    """
    values: dict[str, Any] = {
        keys.SERVICE_NAME: service_name,
        keys.FLEET: fleet,
        keys.SERVICE_VERSION: service_version,
        keys.DEVICE_ID: device_id,
        keys.DEVICE_MODEL: device_model,
        keys.OS_NAME: os_name,
        keys.OS_VERSION: os_version,
        keys.REGION: region,
        keys.NODE: node,
        keys.ENVIRONMENT: environment,
        **extra,
    }
    return Resource.create({key: value for key, value in values.items() if value is not None})
