"""The telemetry contract's names: the span name, attribute keys and their allowed values."""

from __future__ import annotations

INFERENCE_SPAN = "hybrid.inference"

# Span attributes.
TIER = "hybrid.tier"
TASK = "hybrid.task"
MODEL_NAME = "hybrid.model.name"
MODEL_VERSION = "hybrid.model.version"
ATTEMPT = "hybrid.attempt"
ROUTE_REASON = "hybrid.route.reason"
FALLBACK = "hybrid.fallback"
FALLBACK_REASON = "hybrid.fallback.reason"
CONFIDENCE = "hybrid.confidence"
QUALITY = "hybrid.quality"
SHADOW = "hybrid.shadow"
PRIVACY = "hybrid.privacy"
NETWORK = "hybrid.network"
ENERGY_MJ = "hybrid.energy_mj"
THERMAL = "hybrid.thermal"
QUANTIZATION = "hybrid.quantization"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
ERROR_TYPE = "error.type"

# Resource attributes.
SERVICE_NAME = "service.name"
SERVICE_VERSION = "service.version"
DEVICE_ID = "device.id"
DEVICE_MODEL = "device.model.identifier"
OS_NAME = "os.name"
OS_VERSION = "os.version"
REGION = "hybrid.region"
NODE = "hybrid.node"
FLEET = "hybrid.fleet"
ENVIRONMENT = "deployment.environment.name"

# Allowed values.
TIERS = ("device", "edge", "cloud")
ROUTE_REASONS = ("policy", "privacy", "offline", "battery", "thermal", "load")
FALLBACK_REASONS = ("low_confidence", "error", "timeout", "offline", "thermal", "battery", "oom")
PRIVACY_LEVELS = ("sensitive", "normal")
NETWORK_STATES = ("online", "offline", "metered", "degraded")
THERMAL_STATES = ("nominal", "fair", "serious", "critical")
