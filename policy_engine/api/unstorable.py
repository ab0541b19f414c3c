"""Text no database stores is refused at the edge: NUL and unpaired surrogates.

JSON may carry ``\\u0000`` and a lone ``\\ud800``; PostgreSQL refuses the first in text
and JSON columns, and neither database driver can encode the second as UTF-8. Left to
the storage layer they would be a 500 after the engine had run; here they are a 422
naming where they are (a 404 in a path, where nothing stored can match), for the API,
FHIR, CDS Hooks and the pages alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flask import request
from werkzeug.exceptions import NotFound, UnprocessableEntity

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MESSAGE = "must not contain NUL or unpaired surrogate characters"


def refuse_unstorable_text() -> None:
    """Look at the path, the query, and a JSON or form body before any view reads them.

    Nothing stored has such a path, so that is a 404; anywhere else it is a 422.
    """
    if _UNSTORABLE.search(request.path):
        raise NotFound()
    found: dict[str, None] = {}
    fields = list(request.args.items(multi=True))
    if request.is_json:
        if not _plainly_storable(request.get_data(cache=True)):
            found.update(dict.fromkeys(_where(request.get_json(silent=True), "")))
    elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        fields += request.form.items(multi=True)
    for name, value in fields:
        if _UNSTORABLE.search(name + value):
            found[_clean(name)] = None
    if found:
        error = UnprocessableEntity(f"{', '.join(found)}: {MESSAGE}")
        error.data = {"messages": {"body": {name: [MESSAGE] for name in found}}}
        raise error


def _plainly_storable(body: bytes) -> bool:
    """ASCII without NUL bytes or ``\\u`` escapes parses to storable text: most bodies are
    this, and need no walk. (A UTF-16 or UTF-32 body has NUL bytes, so it is walked.)"""
    return body.isascii() and b"\x00" not in body and b"\\u" not in body


def _where(value: Any, path: str) -> Iterator[str]:
    """The paths (``services[0].details.x``) of every string or key holding unstorable text."""
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            yield path or "_body"
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{_clean(key)}" if path else _clean(key)
            if isinstance(key, str) and _UNSTORABLE.search(key):
                yield name
            yield from _where(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _where(item, f"{path}[{index}]" if path else f"[{index}]")


def _clean(name: Any) -> str:
    """A name fit to quote back: unstorable characters shown as escapes."""
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", str(name))
