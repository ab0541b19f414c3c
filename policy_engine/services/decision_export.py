"""The export's two file formats, written straight from index rows: an export is millions of them."""

from __future__ import annotations

import csv
import io
import json
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

from ..storage.decision_query import DECISION_COLUMNS
from .authorizations import iso

CSV_COLUMNS = (
    *("seq", "decision_id", "request_id", "recorded_at", "received_at", "member_id", "organization"),
    *("submitted_by", "urgency", "status", "engine_version", "entry_hash"),
    *("line", "code", "date_of_service", "outcome", "reason", "x12_action", "policies", "decided_by"),
    *("authorization_number", "due_by"),
)
# Positions in a row of ``DECISION_COLUMNS + LINE_COLUMNS``.
_RECORDED, _RECEIVED, _DUE = 3, 4, len(CSV_COLUMNS) - 1
_LINE_AT = len(DECISION_COLUMNS)
# An NDJSON decision as in a search row, with a slot for each value's JSON text.
_DECISION = (
    '{"seq":%s,"decision_id":%s,"request_id":%s,"recorded_at":%s,"received_at":%s,"member_id":%s,'
    '"organization":%s,"urgency":%s,"status":%s,"engine_version":%s,"entry_hash":%s,"submitted_by":%s,'
    '"lines":['
)
_LINE = (
    '{"index":%s,"code":%s,"date_of_service":%s,"outcome":%s,"reason":%s,"x12_action":%s,'
    '"policies":[%s],"decided_by":%s,"authorization_number":%s,"due_by":%s}'
)


class CsvWriter:
    """Comment lines (``# ...``) with the export's metadata, a header row, one row per line."""

    def __init__(self, header: dict[str, Any]) -> None:
        self.header = header
        self.buffer = io.StringIO()
        self.csv = csv.writer(self.buffer, lineterminator="\r\n")

    def start(self) -> str:
        meta = "".join(
            f"# {key}: {json.dumps(value, ensure_ascii=False)}\r\n" for key, value in self.header.items()
        )
        self.csv.writerow(CSV_COLUMNS)
        return "# policy-engine decision export\r\n" + meta + self.flush()

    def add(self, row: tuple[Any, ...]) -> None:
        values = list(row)
        values[_RECORDED] = iso(values[_RECORDED])
        values[_RECEIVED] = iso(values[_RECEIVED])
        if values[_DUE] is not None:
            values[_DUE] = iso(values[_DUE])
        self.csv.writerow(values)

    def flush(self) -> str:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text

    def end(self, decisions: int, lines: int) -> str:
        return f"# end: {decisions} decisions, {lines} lines\r\n"


class NdjsonWriter:
    """A first ``{"export": ...}`` object, one object per decision, a last ``{"end": ...}``.

    Each decision is the search row's JSON, assembled as text: ``decided_by`` is stored
    as compact JSON and goes in as it is, never parsed and written again.
    """

    def __init__(self, header: dict[str, Any]) -> None:
        self.header = header
        self.parts: list[str] = []
        self.seq: int | None = None

    def start(self) -> str:
        return _compact({"export": {**self.header, "format": "ndjson"}}) + "\n"

    def add(self, row: tuple[Any, ...]) -> None:
        if row[0] != self.seq:
            if self.seq is not None:
                self.parts.append("]}\n")
            self.seq = row[0]
            self.parts.append(_DECISION % _decision_texts(row))
        else:
            self.parts.append(",")
        self.parts.append(_LINE % _line_texts(row))

    def flush(self) -> str:
        text = "".join(self.parts)
        self.parts = []
        return text

    def end(self, decisions: int, lines: int) -> str:
        if self.seq is not None:
            self.parts.append("]}\n")
        return self.flush() + _compact({"end": {"decisions": decisions, "lines": lines}}) + "\n"


def _decision_texts(row: tuple[Any, ...]) -> tuple[str, ...]:
    seq, decision_id, request_id, recorded, received, member, organization, actor = row[:8]
    urgency, status, engine_version, entry_hash = row[8:12]
    return (
        str(seq),
        _string(decision_id),
        _string(request_id),
        '"' + iso(recorded) + '"',
        '"' + iso(received) + '"',
        _string(member),
        _string(organization),
        _string(urgency),
        _string(status),
        _string(engine_version),
        _string(entry_hash),
        _string(actor),
    )


def _line_texts(row: tuple[Any, ...]) -> tuple[str, ...]:
    index, code, date_of_service, outcome, reason, x12_action, policies, decided_by, number, due = row[
        _LINE_AT:
    ]
    return (
        str(index),
        _string(code),
        _string(date_of_service),
        _string(outcome),
        _string(reason),
        _string(x12_action),
        ",".join(_policy(label) for label in policies.split()),
        decided_by,
        _string(number),
        "null" if due is None else '"' + iso(due) + '"',
    )


def _policy(label: str) -> str:
    policy, _, version = label.rpartition("@")
    return '{"policy":' + encode_basestring(policy) + ',"version":' + str(int(version)) + "}"


def _string(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
