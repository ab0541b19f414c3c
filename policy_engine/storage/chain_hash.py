"""What the decision log's hash chain covers, and each hash computed from the values as stored.

Two schemes, told apart by ``content_hash``:

- chained content (entries recorded since migration 0006): ``content_hash`` is the
  SHA-256 of the canonical JSON of the entry's content (every hashed column but ``seq``
  and ``prev_hash``), and ``entry_hash = sha256(prev_hash ‖ content_hash)`` over the two
  hex strings. The content is hashed before the chain lock is taken; under it only the
  short link is, by the database itself on PostgreSQL.
- whole entry (``content_hash`` is null; entries recorded before 0006): ``entry_hash``
  is the SHA-256 of the canonical JSON of every hashed column, ``seq`` and
  ``prev_hash`` included.

JSON columns are stored canonical, so the canonical text of an entry is assembled from
the stored text of its columns without parsing them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

from .canonical import sha256_of, utc

GENESIS = "0" * 64
HASHED = (
    "seq",
    "entry_id",
    "decision_id",
    "kind",
    "organization",
    "request_id",
    "request_sha256",
    "member_id",
    "urgency",
    "status",
    "received_at",
    "recorded_at",
    "actor",
    "actor_role",
    "engine_version",
    "policies",
    "request",
    "result",
    "prev_hash",
)
CONTENT = tuple(name for name in HASHED if name not in ("seq", "prev_hash"))
DOCUMENTS = ("policies", "request", "result")
TIMES = ("received_at", "recorded_at")


def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def _document(value: str | None) -> str:
    return "null" if value is None else value


def _instant(value: dt.datetime) -> str:
    """``timestamp_text`` as JSON, for years from 1000 on (earlier ones fall back to the slow check)."""
    return '"' + utc(value).isoformat(timespec="microseconds")[:-6] + 'Z"'


def _form(name: str) -> Callable[[Any], str]:
    if name in DOCUMENTS:
        return _document
    if name in TIMES:
        return _instant
    return str if name == "seq" else _text


class CanonicalForm:
    """The canonical JSON of a set of columns, filled in from stored values in key order."""

    def __init__(self, names: Sequence[str]) -> None:
        self.order = tuple(sorted(names))
        self.template = "{" + ",".join(json.dumps(name) + ":%s" for name in self.order) + "}"
        self.forms = tuple(_form(name) for name in self.order)

    def text(self, values: Sequence[Any]) -> str:
        """Values in ``order``; JSON columns as their stored (canonical) text."""
        return self.template % tuple([form(value) for form, value in zip(self.forms, values, strict=False)])

    def hash(self, values: Sequence[Any]) -> str:
        return hashlib.sha256(self.text(values).encode()).hexdigest()

    def hash_of(self, row: Mapping[str, Any]) -> str:
        return self.hash([row[name] for name in self.order])

    def parsed_hash(self, row: Mapping[str, Any]) -> str:
        """The hash whatever form the JSON columns' text is in: parsed, then made canonical."""
        return sha256_of(
            {n: json.loads(row[n]) if n in DOCUMENTS and row[n] is not None else row[n] for n in self.order}
        )


WHOLE = CanonicalForm(HASHED)
CHAINED = CanonicalForm(CONTENT)


def link_hash(prev_hash: str, content_hash: str) -> str:
    """An entry's place in the chain: the previous entry's hash followed by its own content's."""
    return hashlib.sha256((prev_hash + content_hash).encode()).hexdigest()


def stored_hash(row: Mapping[str, Any]) -> str:
    """The whole-entry hash of a row as stored, taking its JSON columns' text to be canonical."""
    return WHOLE.hash_of(row)


def hashes_match(row: Mapping[str, Any], parse: bool = False) -> bool:
    """Whether a stored row's hashes match its content, under the scheme it was recorded with.

    With ``parse``, JSON text in any form is accepted (parsed and made canonical first).
    """
    content_hash = row.get("content_hash")
    if content_hash is None:
        whole = WHOLE.parsed_hash(row) if parse else WHOLE.hash_of(row)
        return whole == row["entry_hash"]
    content = CHAINED.parsed_hash(row) if parse else CHAINED.hash_of(row)
    return content == content_hash and link_hash(row["prev_hash"], content_hash) == row["entry_hash"]
