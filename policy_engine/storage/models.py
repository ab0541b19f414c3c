"""The tables: decision log, its head and index, access trail, tokens, policy versions, review claims."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, Index, Integer, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

Timestamp = Annotated[dt.datetime, mapped_column(DateTime(timezone=True))]
Hash = Annotated[str, mapped_column(String(64))]
Name = Annotated[str, mapped_column(String(128))]
Document = Annotated[Any, mapped_column(JSON)]


class Base(DeclarativeBase):
    pass


class LogEntry(Base):
    """One append-only entry of the decision log, chained to the one before it by hash.

    ``seq`` is the chain position, assigned under the chain lock, so gaps and reorders
    are visible. A first decision is its own case (``decision_id == entry_id``); later
    entries about the case (reviewer determinations, appeals) carry its ``decision_id``.
    """

    __tablename__ = "decision_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_id: Mapped[str] = mapped_column(String(36), unique=True)
    decision_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    organization: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(128))
    request_sha256: Mapped[Hash]
    member_id: Mapped[str | None] = mapped_column(String(64), index=True)
    urgency: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24))
    received_at: Mapped[Timestamp]
    recorded_at: Mapped[Timestamp] = mapped_column(index=True)
    actor: Mapped[Name] = mapped_column(index=True)
    actor_role: Mapped[str] = mapped_column(String(16))
    engine_version: Mapped[str] = mapped_column(String(64))
    policies: Mapped[Document]
    request: Mapped[Document]
    result: Mapped[Document]
    prev_hash: Mapped[Hash]
    entry_hash: Mapped[Hash]
    # null for entries recorded before migration 0006, whose entry_hash covers the whole entry
    content_hash: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index(
            "uq_decision_request",
            "organization",
            "request_id",
            unique=True,
            postgresql_where=text("kind = 'decision'"),
            sqlite_where=text("kind = 'decision'"),
        ),
        # the later entries of each case (determinations, appeals), for the overdue and reviewer filters
        Index(
            "ix_decision_log_later",
            "decision_id",
            "actor",
            postgresql_where=text("kind <> 'decision'"),
            sqlite_where=text("kind <> 'decision'"),
        ),
    )


class ChainHead(Base):
    """The decision log's newest entry, in one row: advancing it is what serializes appends.

    Kept with every append, in its transaction; the log itself, not this row, is what
    ``verify`` checks.
    """

    __tablename__ = "chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[Hash]
    entry_hash: Mapped[Hash]


class DecisionLine(Base):
    """One service line of a first decision, for searching the log without reading its JSON.

    Written in the same transaction as its log entry and never changed; the entry's
    hash covers the full result, so this table can be rebuilt from the log at any time.
    """

    __tablename__ = "decision_lines"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    line: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    code: Mapped[str] = mapped_column(String(16))
    date_of_service: Mapped[str | None] = mapped_column(String(10))
    outcome: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(String(32))
    x12_action: Mapped[str | None] = mapped_column(String(4))
    policies: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(Text)
    authorization_number: Mapped[str | None] = mapped_column(String(64))
    due_by: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_decision_lines_outcome", "outcome", "reason", "seq"),
        Index("ix_decision_lines_x12", "x12_action", "seq"),
        Index("ix_decision_lines_code", "code", "seq"),
        Index("ix_decision_lines_due", "due_by"),
    )


class DecisionLinePolicy(Base):
    """A policy version that governed a decision line (a line may have several, or none)."""

    __tablename__ = "decision_line_policies"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    line: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    policy_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    policy_version: Mapped[int]

    __table_args__ = (
        Index("ix_decision_line_policies", "policy_id", "policy_version", "seq"),
        Index("ix_decision_line_policies_seq", "policy_id", "seq", "line"),
    )


class AccessRecord(Base):
    """Who read which decision (and so which member's record), and when."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[Timestamp] = mapped_column(index=True)
    actor: Mapped[Name] = mapped_column(index=True)
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(24))
    decision_id: Mapped[str] = mapped_column(String(36))
    member_id: Mapped[str | None] = mapped_column(String(64))
    # the read decision's log position: reads are found by decision or member through it
    seq: Mapped[int | None] = mapped_column(BigInteger, index=True)


class ApiToken(Base):
    """A bearer token's holder and role; only the token's SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[Name]
    role: Mapped[str] = mapped_column(String(16))
    organization: Mapped[str | None] = mapped_column(String(64))
    physician: Mapped[bool] = mapped_column(Boolean, default=False)
    token_sha256: Mapped[Hash] = mapped_column(unique=True)
    created_at: Mapped[Timestamp]
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class PolicyVersionRecord(Base):
    """A stored policy version: its YAML as written, state, hash and effective period."""

    __tablename__ = "policy_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int]
    state: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    sha256: Mapped[Hash]
    effective: Mapped[dt.date] = mapped_column(Date)
    expires: Mapped[dt.date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(Text)
    source_path: Mapped[str] = mapped_column(Text)
    author: Mapped[Name]
    approver: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[Timestamp]
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    comment: Mapped[str | None] = mapped_column(Text)
    retired_on: Mapped[dt.date | None] = mapped_column(Date)

    __table_args__ = (Index("uq_policy_version", "policy_id", "version", unique=True),)


class PolicyEvent(Base):
    """One step in a policy's history: submitted, approved, rejected, superseded, retired, loaded."""

    __tablename__ = "policy_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int]
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[Name]
    actor_role: Mapped[str] = mapped_column(String(16))
    at: Mapped[Timestamp]
    comment: Mapped[str | None] = mapped_column(Text)


class ReviewClaim(Base):
    """Which reviewer is working a case; one claim per case, so two cannot work the same one.

    A claim is working state, not a record of a decision: it lives outside the log and is
    removed when released or when the case is no longer pended.
    """

    __tablename__ = "review_claims"

    decision_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reviewer: Mapped[Name]
    claimed_at: Mapped[Timestamp]
