"""Response objects and the real server's response headers (Express 5 + CADT middleware)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from .serialize import dumps_body

JSON_CT = b"application/json; charset=utf-8"
EXPOSE = (b"x-api-version,cw-read-only,x-datamodel-version,x-governance-body,x-wallet-synced,"
          b"x-home-org-synced,x-data-synced,x-sync-remaining")
API_VERSION = b"1.7.24"


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: bytes | None = JSON_CT
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    etag: bool = True  # Express res.json/res.send adds a weak ETag
    stream: AsyncIterator[bytes] | None = None


def json_response(obj: object, status: int = 200) -> Response:
    return Response(status, dumps_body(obj))


def raw_json(body: bytes, status: int = 200) -> Response:
    return Response(status, body)


def validation_error(errors: list[str]) -> Response:
    return json_response({"message": "Data Validation error", "errors": errors,
                          "success": False}, 400)


def controller_error(message: str, error: str) -> Response:
    return json_response({"message": message, "error": error, "success": False}, 400)


def not_found(method: str, path: str) -> Response:
    body = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>Error</title>\n</head>\n<body>\n<pre>Cannot {method} {path}</pre>\n"
            f"</body>\n</html>\n").encode()
    return Response(404, body, b"text/html; charset=utf-8", etag=False, headers=[
        (b"Content-Security-Policy", b"default-src 'none'"),
        (b"X-Content-Type-Options", b"nosniff")])


def cors_headers() -> list[tuple[bytes, bytes]]:
    """Express + cors(): set before anything else (the rate limiter comes right after)."""
    return [(b"X-Powered-By", b"Express"), (b"Access-Control-Allow-Origin", b"*"),
            (b"Access-Control-Expose-Headers", EXPOSE)]


def cadt_headers(data_synced: bool, sync_remaining: int) -> list[tuple[bytes, bytes]]:
    """The CADT middleware's headers (after the API-key check)."""
    return [(b"cw-read-only", b"false"), (b"x-governance-body", b"false"),
            (b"x-api-version", API_VERSION), (b"x-datamodel-version", b"v1"),
            (b"x-data-synced", b"true" if data_synced else b"false"),
            (b"x-sync-remaining", str(sync_remaining).encode()),
            (b"x-wallet-synced", b"true")]
