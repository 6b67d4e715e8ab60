"""Signing in to the dashboard with a read token, kept in a cookie.

Every request to the dashboard is checked with the server's own
``authenticate`` (the function the read API uses), so revoking a token signs
its browsers out at their next request. The token comes from, in order:

- ``Authorization: Bearer <token>`` (scripts, or a proxy that adds it);
- the ``tierwatch_token`` cookie, set by the sign-in form (``POST /dashboard/login``)
  or by opening any dashboard URL with ``?token=<token>`` once: the answer sets
  the cookie and redirects to the same URL without the token, so it does not
  stay in the address bar or the browser history.

The cookie is ``HttpOnly`` (scripts cannot read it), ``SameSite=Lax`` (not sent
with requests other sites start, apart from links followed), ``Secure`` when
the request came over HTTPS, scoped to the dashboard's path and kept for
``dashboard.session_hours``. The sign-in form is protected from cross-site
posts by a double-submit token: the page sets a random ``tierwatch_csrf``
cookie (``SameSite=Strict``) and puts the same value in the form, and a POST
whose two values differ is refused with 403. A request without a valid token gets the sign-in
page (a browser opening a page) or a 401 (anything else); a token whose role
may not read gets a 403. With ``--dev`` ``authenticate`` lets every request in
and no sign-in is asked for.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from html import escape
from urllib.parse import urlencode

from flask import Flask, Response, g, redirect, request

from collector.auth import Principal
from collector.errors import IngestError

COOKIE = "tierwatch_token"
#: The double-submit cookie: the sign-in form must post back the value it holds.
CSRF_COOKIE = "tierwatch_csrf"
CSRF_REFUSED = "this sign-in form did not come from this dashboard (or expired); sign in again"
LOGIN = "/login"
LOGOUT = "/logout"
#: A function from an ``Authorization`` header value to a principal; raises IngestError.
Authenticate = Callable[[str | None], Principal]

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · tierwatch</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:system-ui,-apple-system,Segoe UI,sans-serif;background:#f6f8fa;color:#1b1f24;
margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}}
form{{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:24px 28px;width:420px}}
h1{{font-size:20px;margin:0 0 12px}} p{{font-size:14px;line-height:1.45}}
input[type=password]{{width:100%;box-sizing:border-box;padding:8px;font-size:14px;
border:1px solid #8c959f;border-radius:6px}}
button{{margin-top:12px;padding:8px 16px;font-size:14px;border-radius:6px;border:1px solid #0072B2;
background:#0072B2;color:#fff;cursor:pointer}}
.error{{color:#1b1f24;background:#fbe3d6;border-left:4px solid #D55E00;padding:8px}}
code{{background:#eaeef2;padding:1px 4px;border-radius:4px}}
</style></head><body>
<form method="post" action="{action}" id="login-form">
<h1>Sign in to tierwatch</h1>
{error}
<p>Paste a read token. Create one with
<code>tierwatch token create --fleet FLEET --role read</code>; a fleet's token shows
that fleet only.</p>
<label for="token">Token</label>
<input type="password" id="token" name="token" autocomplete="off" autofocus required>
<input type="hidden" name="next" value="{next}">
<input type="hidden" name="csrf" value="{csrf}">
<button type="submit" id="sign-in">Sign in</button>
<p>This browser stays signed in for {hours:g} hours, until you sign out, or until the
token is revoked.</p>
</form></body></html>"""


def current_principal() -> Principal:
    """Who sent the request being answered (set by the check before every request)."""
    principal: Principal | None = g.get("principal")
    if principal is None:
        raise RuntimeError("no principal: the request was not authenticated")
    return principal


def _home() -> str:
    return request.script_root + "/"


def _safe_next(target: str | None) -> str:
    # Only paths inside the dashboard: never another site ("//host" or "https://...").
    home = _home()
    if target and target.startswith(home) and not target.startswith("//"):
        return target
    return home


def login_page(*, error: str = "", next_url: str = "", status: int = 401, hours: float) -> Response:
    """The sign-in form, with ``error`` shown above it and this browser's CSRF token in it."""
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    body = _PAGE.format(
        action=escape(request.script_root + LOGIN),
        error=f'<p class="error" id="login-error">{escape(error)}</p>' if error else "",
        next=escape(_safe_next(next_url)),
        csrf=escape(csrf),
        hours=hours,
    )
    response = Response(
        body,
        status=status,
        mimetype="text/html",
        headers={"Cache-Control": "no-store"},
    )
    response.set_cookie(
        CSRF_COOKIE, csrf, httponly=True, samesite="Strict", secure=request.is_secure, path=_home()
    )
    return response


def _csrf_ok() -> bool:
    """Whether the posted form carries the CSRF token of this browser's cookie."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    posted = request.form.get("csrf", "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), posted.encode())


def _check(authenticate: Authenticate, header: str | None) -> tuple[Principal | None, str, int]:
    """The principal of ``header``, or ``None`` with the reason and the status to answer."""
    try:
        principal = authenticate(header)
    except IngestError as exc:
        return None, exc.message, exc.status_code
    if not principal.may_read():
        return None, "this token's role may not read; use a read or admin token", 403
    return principal, "", 200


def install(server: Flask, *, authenticate: Authenticate, session_hours: float) -> None:
    """Check every request to ``server`` and add the sign-in and sign-out routes."""
    max_age = int(session_hours * 3600)

    def remember(response: Response, token: str) -> Response:
        response.set_cookie(
            COOKIE,
            token,
            max_age=max_age,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
            path=_home(),
        )
        return response

    def wants_page() -> bool:
        return (
            request.method == "GET"
            and not request.path.startswith("/_")
            and "text/html" in request.headers.get("Accept", "")
        )

    def refuse(message: str, status: int) -> Response:
        if status in (401, 403) and wants_page():
            return login_page(
                error=message if status == 403 or request.cookies.get(COOKIE) else "",
                next_url=request.script_root + request.full_path.rstrip("?"),
                status=status,
                hours=session_hours,
            )
        headers = {"Cache-Control": "no-store"}
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="tierwatch"'
        if status in (429, 503):
            headers["Retry-After"] = "2"
        return Response(message, status=status, mimetype="text/plain", headers=headers)

    @server.before_request
    def check() -> Response | None:
        if request.path in (LOGIN, LOGOUT):
            return None
        token = request.args.get("token")
        if token is not None and request.method == "GET":
            principal, message, status = _check(authenticate, f"Bearer {token.strip()}")
            if principal is None:
                return login_page(error=message, status=status, hours=session_hours)
            rest = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
            target = request.script_root + request.path + ("?" + urlencode(rest) if rest else "")
            return remember(redirect(target, 303), token.strip())  # type: ignore[arg-type]
        header = request.headers.get("Authorization")
        if header is None and request.cookies.get(COOKIE):
            header = f"Bearer {request.cookies[COOKIE]}"
        principal, message, status = _check(authenticate, header)
        if principal is None:
            return refuse(message, status)
        g.principal = principal
        return None

    @server.route(LOGIN, methods=["GET", "POST"])
    def login() -> Response:
        if request.method == "GET":
            return login_page(
                next_url=request.args.get("next", ""), status=200, hours=session_hours
            )
        token = request.form.get("token", "").strip()
        next_url = request.form.get("next", "")
        if not _csrf_ok():
            # Another site may post this form, with a token of its own, to sign the
            # browser in as someone else: only a form this site served is accepted.
            return login_page(
                error=CSRF_REFUSED, next_url=next_url, status=403, hours=session_hours
            )
        principal, message, status = _check(authenticate, f"Bearer {token}" if token else None)
        if principal is None:
            return login_page(error=message, next_url=next_url, status=status, hours=session_hours)
        return remember(redirect(_safe_next(next_url), 303), token)  # type: ignore[arg-type]

    @server.route(LOGOUT)
    def logout() -> Response:
        response = redirect(request.script_root + LOGIN, 303)
        response.delete_cookie(COOKIE, path=_home(), httponly=True, samesite="Lax")
        return response  # type: ignore[return-value]
