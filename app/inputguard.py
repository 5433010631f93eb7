"""Input rules every HTTP request meets before any router sees it (a pure ASGI middleware).

- **No NUL.** U+0000 is refused in every text input — path, query string, JSON and form
  bodies — with 422 ``validation_error``: PostgreSQL cannot store it in ``text``, and no
  client has a reason to send it. The rule is enforced here, on the raw request, rather
  than on each request model, so a route added tomorrow cannot forget it (a field typed
  ``str``, a ``Query`` parameter, a ``Form`` field and a path id are all covered the
  same way). The WebSocket gateway applies the same check (``json_has_nul``) to each
  text frame.
- **A body cap.** A request body that is not an upload (``multipart/form-data``, which
  the upload routes bound themselves) is at most ``settings.json_body_max_bytes``
  (default 1 MiB); larger answers 413 ``payload_too_large``. A declared
  ``Content-Length`` above the cap is refused before reading anything; otherwise the
  bytes are counted as they stream in and reading stops at the cap, so a 10 MB body is
  never held whole.

The checked body is handed on to the application unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from app.errors import PayloadTooLarge, QuanziError, ValidationFailed, error_response

# A JSON string escape for U+0000: ``\u0000`` preceded by an even number of backslashes
# (``\\u0000`` is a backslash followed by the text "u0000", which is fine).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_JSON_NUL_TEXT = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
_NUL_MESSAGE = "text must not contain NUL (U+0000)"


def nul_error(where: str) -> ValidationFailed:
    return ValidationFailed(
        _NUL_MESSAGE, errors=[{"loc": [where], "msg": _NUL_MESSAGE, "type": "string_nul"}]
    )


def json_has_nul(text: str | bytes) -> bool:
    """Whether a JSON document holds U+0000, raw or escaped (``\\u0000``)."""
    if isinstance(text, bytes):
        return b"\x00" in text or _JSON_NUL.search(text) is not None
    return "\x00" in text or _JSON_NUL_TEXT.search(text) is not None


def _urlencoded_has_nul(raw: bytes) -> bool:
    return b"\x00" in raw or b"%00" in raw


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


class InputGuardMiddleware:
    def __init__(self, app: Any, max_body_bytes: int = 1024 * 1024) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", ""):
            await _refuse(nul_error("path"), scope, receive, send)
            return
        if _urlencoded_has_nul(scope.get("query_string", b"")):
            await _refuse(nul_error("query"), scope, receive, send)
            return
        content_type = _header(scope, b"content-type").lower()
        if content_type.startswith("multipart/"):
            await self.app(scope, receive, send)  # uploads: their routes bound them
            return
        length = _header(scope, b"content-length")
        if length.isdigit() and int(length) > self.max_body_bytes:
            await _refuse(self._too_large(), scope, receive, send)
            return
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body_bytes:
                await _refuse(self._too_large(), scope, receive, send)
                return
        form = content_type.startswith("application/x-www-form-urlencoded")
        if body and (_urlencoded_has_nul(body) if form else json_has_nul(bytes(body))):
            await _refuse(nul_error("body"), scope, receive, send)
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"request bodies are limited to {self.max_body_bytes} bytes", max_bytes=self.max_body_bytes
        )


async def _refuse(exc: QuanziError, scope: Any, receive: Any, send: Any) -> None:
    await error_response(exc)(scope, receive, send)
