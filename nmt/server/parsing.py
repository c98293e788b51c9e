"""Request bodies (JSON, URL-encoded or multipart form) to a checked ``TranslateRequest``.

Messages and status codes follow LibreTranslate's ``/translate``: 400 with ``{"error": ...}``
for a missing or malformed field or a text over the limits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from nmt.server.settings import ServeSettings

JSON_TYPES = ("application/json",)
FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data"
# a form has a handful of fields; many more is an attack on the parser, not a request
MAX_FORM_FIELDS = 64


class ApiError(Exception):
    """An answer other than 200: its HTTP status and the ``error`` message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


FORMATS = ("text", "html")


@dataclass(frozen=True)
class TranslateRequest:
    texts: list[str]
    batch: bool  # q was a list: answer with lists
    source: str
    target: str
    alternatives: int
    api_key: str | None
    html: bool = False  # format html: the texts are HTML documents (nmt.server.markup)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ApiError(
            400, f"Invalid request: {what} is not valid UTF-8 (byte {err.start})"
        ) from None


def _json_fields(body: bytes) -> dict[str, Any]:
    text = _utf8(body, "the body")
    try:
        fields = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise ApiError(400, "Invalid JSON format") from None
    if not isinstance(fields, dict):
        raise ApiError(400, "Invalid JSON format")
    return fields


def _urlencoded_fields(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(
            _utf8(body, "the body"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except UnicodeDecodeError:
        raise ApiError(400, "Invalid request: a form field is not valid UTF-8") from None
    except ValueError:
        raise ApiError(400, f"Invalid request: more than {MAX_FORM_FIELDS} form fields") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)  # the first of repeated fields, as LibreTranslate
    return fields


def _multipart_fields(content_type: str, body: bytes) -> dict[str, str]:
    # the standard library's MIME parser keeps every part's raw bytes, so that bad UTF-8 is
    # refused rather than decoded into replacement characters
    head = b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ApiError(400, "Invalid request: malformed multipart form")
    fields: dict[str, str] = {}
    for count, part in enumerate(message.iter_parts()):
        if count >= MAX_FORM_FIELDS:
            raise ApiError(400, f"Invalid request: more than {MAX_FORM_FIELDS} form fields")
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise ApiError(400, "Invalid request: a multipart form part without a name")
        if part.get_filename() is not None:
            raise ApiError(400, "Invalid request: file uploads are not accepted")
        data = part.get_payload(decode=True) or b""
        fields.setdefault(name, _utf8(data, f"form field {name!r}"))
    return fields


def body_fields(
    content_type: str | None, body: bytes, query: dict[str, str]
) -> tuple[dict[str, Any], bool]:
    """The request's fields and whether they came as JSON. Form fields are merged over the
    query string's, as LibreTranslate (Flask's ``request.values``) does; JSON stands alone."""
    kind = media_type(content_type)
    if kind in JSON_TYPES or kind.endswith("+json"):
        return _json_fields(body), True
    if kind == FORM_TYPE or (not kind and body):
        return {**query, **_urlencoded_fields(body)}, False
    if kind == MULTIPART_TYPE:
        return {**query, **_multipart_fields(content_type or "", body)}, False
    if not body:
        return dict(query), False
    raise ApiError(
        415, f"Unsupported content type {kind!r}: send JSON or a form (URL-encoded or multipart)"
    )


def _missing(name: str) -> ApiError:
    return ApiError(400, f"Invalid request: missing {name} parameter")


def _language(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    if value is None or value == "":
        raise _missing(name)
    if not isinstance(value, str):
        raise ApiError(400, f"Invalid request: {name} must be a language code (a string)")
    return value.strip().lower()


def _alternatives(value: Any, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str | None):
        raise ApiError(400, "Invalid request: alternatives parameter is not a number")
    try:
        count = int(value or 0)
    except ValueError:
        raise ApiError(400, "Invalid request: alternatives parameter is not a number") from None
    count = max(0, count)  # a negative count means none, as LibreTranslate reads it
    if count > limit:
        raise ApiError(400, f"Invalid request: alternatives parameter must be <= {limit}")
    return count


def _texts(q: Any, from_json: bool, settings: ServeSettings) -> tuple[list[str], bool]:
    if q is None or q == "" or q == []:
        raise _missing("q")
    batch = isinstance(q, list)
    texts = q if batch else [q]
    if not all(isinstance(text, str) for text in texts):
        raise ApiError(400, "Invalid request: q must be a string or a list of strings")
    if batch and len(texts) > settings.batch_limit:
        raise ApiError(
            400,
            f"Invalid request: request ({len(texts)} texts) exceeds text limit "
            f"({settings.batch_limit})",
        )
    if not from_json:
        # form line endings become LF, so that the character limit counts the same text
        texts = ["\n".join(text.splitlines()) for text in texts]
    for text in texts:
        if len(text) > settings.char_limit:
            raise ApiError(
                400,
                f"Invalid request: request ({len(text)} characters) exceeds text limit "
                f"({settings.char_limit})",
            )
    return list(texts), batch


def api_key(fields: dict[str, Any]) -> str | None:
    value = fields.get("api_key")
    return value if isinstance(value, str) and value else None


def translate_request(
    fields: dict[str, Any], from_json: bool, settings: ServeSettings
) -> TranslateRequest:
    """Check ``/translate``'s fields (not yet whether the languages are served)."""
    texts, batch = _texts(fields.get("q"), from_json, settings)
    source = _language(fields, "source")
    target = _language(fields, "target")
    alternatives = _alternatives(fields.get("alternatives"), settings.alternatives_limit)
    text_format = fields.get("format") or "text"
    if text_format not in FORMATS:
        shown = text_format if isinstance(text_format, str) else type(text_format).__name__
        raise ApiError(400, f"Invalid request: format must be text or html, got {shown!r}")
    return TranslateRequest(
        texts, batch, source, target, alternatives, api_key(fields), text_format == "html"
    )


def detect_request(fields: dict[str, Any], from_json: bool, settings: ServeSettings) -> str:
    """Check ``/detect``'s fields: its one text ``q`` (a string, within the character limit)."""
    q = fields.get("q")
    if isinstance(q, list):
        raise ApiError(400, "Invalid request: q must be a string")
    texts, _ = _texts(q, from_json, settings)
    return texts[0]
