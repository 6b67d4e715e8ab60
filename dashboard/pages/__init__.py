"""The dashboard's pages: each has a layout builder, view functions and ``register``.

A view function is the body of a callback: it takes the :class:`~dashboard.context.Context`
and the inputs, asks the source, and returns components built from figure
functions and :mod:`dashboard.components`. ``register`` wires views to callbacks.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from dash import no_update

from dashboard import components
from dashboard.context import Context

log = logging.getLogger("tierwatch.dashboard")
F = TypeVar("F", bound=Callable[..., Any])


def guarded(outputs: int) -> Callable[[F], F]:
    """Turn a failure of a view into a notice in its first output, leaving the others be.

    A page whose database read fails says so instead of going blank; the error
    is logged with its traceback.
    """

    def wrap(view: F) -> F:
        @functools.wraps(view)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return view(*args, **kwargs)
            except Exception as exc:
                log.exception("dashboard view %s failed", view.__name__)
                message = components.notice(
                    f"Could not read the data for this view ({type(exc).__name__}: {exc}). "
                    "It is tried again at the next refresh.",
                    kind="error",
                )
                return message if outputs == 1 else (message, *[no_update] * (outputs - 1))

        return run  # type: ignore[return-value]

    return wrap


def caption(ctx: Context, scope: str | None, period: str) -> str:
    """The line under a page's title: which fleet, which period, and when it was read."""
    where = f"fleet {scope}" if scope else "every fleet"
    return f"{where}; {period}; updated {ctx.clock():%H:%M:%S} UTC"
