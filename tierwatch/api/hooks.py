"""``/api/v1/hooks``: the configured alerting hooks, and test notifications to them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request

from analytics.alerting.probe import UnknownHook, send_test_notification
from analytics.alerting.service import now_ms
from tierwatch.api.alert_models import HooksResponse, HookTestResult
from tierwatch.api.deps import AdminAuth, EngineDep, ReadAuth

router = APIRouter(prefix="/api/v1", tags=["alerts"])


@router.get("/hooks", response_model=HooksResponse, summary="Configured alerting hooks")
def get_hooks(request: Request, principal: ReadAuth) -> dict[str, Any]:
    """Hooks from [[alerts.hooks]]: name, kind and host (never the URL, secret or header values)."""
    hooks = request.app.state.settings.alerts.hooks
    return {
        "hooks": [
            {
                "name": h.name,
                "kind": h.kind,
                "host": urlsplit(h.url).hostname or "",
                "fleets": h.fleets,
                "severities": list(h.severities),
                "signed": bool(h.signing_secret),
                "headers": h.header_names,
            }
            for h in hooks
        ]
    }


@router.post(
    "/hooks/{name}/test",
    response_model=HookTestResult,
    summary="Send a test notification to a hook",
    responses={404: {"description": "No hook of that name is configured."}},
)
def post_hook_test(
    name: str, request: Request, engine: EngineDep, principal: AdminAuth
) -> dict[str, Any]:
    """Send a made-up alert to hook ``name`` now and answer with the first attempt's outcome.

    A retryable failure stays ``pending`` and is retried like any notification.
    """
    settings = request.app.state.settings
    try:
        attempted = send_test_notification(
            engine,
            settings.alerts,
            public_url=settings.server.public_url,
            hook_name=name,
            fleet=principal.fleet,
            holder=request.app.state.alert_holder,
            clock=now_ms,
        )
    except UnknownHook as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return {
        "delivery_id": attempted.delivery_id,
        "webhook_id": attempted.webhook_id,
        "status": attempted.status,
        "status_code": attempted.status_code,
        "error": attempted.error,
    }
