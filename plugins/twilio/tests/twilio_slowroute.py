"""A plugin answering ``route_call`` slower than a caller should wait (the voice URL answers within 1.5 s), so the
voice URL's deadline and fallback are exercised against the real inline pipeline."""

from __future__ import annotations

import time

from mayak import IncomingCall, RouteAnswer, hookimpl

DELAY = 1.8


@hookimpl(tryfirst=True)
def route_call(call: IncomingCall) -> RouteAnswer | None:
    time.sleep(DELAY)
    return RouteAnswer(extensions=("olga",))
