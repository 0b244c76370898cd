"""ASGI middleware of the service: the body size limit, security headers, and the Host names
a server bound to an address accepts."""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import JSONResponse


class BodyLimit:
    """ASGI middleware: 413 once a request body passes ``limit`` bytes (declared or streamed)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await JSONResponse({"detail": f"request body over {self.limit} bytes"}, 413)(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge(413, f"request body over {self.limit} bytes")
            return message

        try:
            return await self.app(scope, limited, send)
        except _TooLarge:
            return await JSONResponse({"detail": f"request body over {self.limit} bytes"}, 413)(scope, receive, send)


class _TooLarge(HTTPException):
    """A streamed (chunked) body over the limit. An HTTPException, because FastAPI turns any other
    exception raised while it reads the body into a 400; this one it re-raises, and it becomes the 413."""


LOOPBACK_NAMES = ["localhost", "127.0.0.1", "::1", "[::1]"]


def host_names(host: str) -> list[str]:
    """Host header names to accept for a server bound to ``host``: its loopback names, the
    address itself, or "*" for every address (0.0.0.0, ::)."""
    if host in ("0.0.0.0", "::", ""):
        return ["*"]
    if host in LOOPBACK_NAMES or host.startswith("127."):
        return sorted(set(LOOPBACK_NAMES + [host]))
    return [host, f"[{host}]"] if ":" in host else [host]


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    # The page is one file with its own script and style; it loads nothing from elsewhere.
    (b"content-security-policy", b"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                                 b"img-src data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
]


class SecurityHeaders:
    """ASGI middleware: the security headers above on every HTTP response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (name, value) for name, value in SECURITY_HEADERS if name not in names]
            await send(message)

        return await self.app(scope, receive, with_headers)
