"""Stored versions as policies, the ones whose period has ended kept light.

A worker keeps every approved version, since a line is judged by the version in effect
on its date of service, however old. Kept parsed, each would cost its whole tree
(tens of kilobytes) for as long as the process lives, so a worker would grow with
every approval. A version whose period ended before today is rarely asked for: it is
kept as its period and codes (what choosing a version needs), and its text is read from
the store and parsed again when a line first reaches it; a few such parsed forms are
cached. The versions in effect or to come are parsed once and kept while they are: each
reading of the versions in force keeps exactly its own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, cast

from ..errors import PolicyInvalid
from ..loader import link_versions, parse_policy_text
from ..model import Policy
from ..values import CodeSet
from .models import PolicyVersionRecord

PAST_PARSED = 8  # parsed forms of ended versions, the most recently used
CODES = 4096  # code sets kept, a few hundred bytes each

Reader = Callable[[str, int], str]  # (policy id, version) -> the stored text


class PastVersion:
    """A version whose period has ended: what choosing a version reads is at hand; every
    other attribute is its parsed policy's, parsed on first use and not kept by this object."""

    governs = Policy.governs
    ended_before = Policy.ended_before
    key = Policy.key

    def __init__(self, row: PolicyVersionRecord, read: Reader | None = None) -> None:
        """``read``: where to find the text again when it is needed; without it, it is kept."""
        self.id, self.version, self.sha256 = row.policy_id, row.version, row.sha256
        self.effective, self.expires, self.file = row.effective, row.expires, row.source_path
        self.ends: dt.date | None = None
        self.services: CodeSet | None = None  # set once the version is known to have ended
        self._read, self._text = read, None if read else row.source

    def text(self) -> str:
        return self._text if self._text is not None else self._read(self.id, self.version)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # private, or copy and pickle looking before __init__ ran
            raise AttributeError(name)
        return getattr(_parsed_past(self), name)

    def __repr__(self) -> str:
        return f"PastVersion({self.key})"


def parse_records(
    rows: list[PolicyVersionRecord], today: dt.date, keep: bool = False, read: Reader | None = None
) -> list[Policy]:
    """Stored versions as policies, with effective periods linked and retirements applied;
    those whose period ended before ``today`` as ``PastVersion``s (reading their text with
    ``read`` when it is needed again, or keeping it).

    ``keep``: remember the parsed forms of the others, and only those, for the next
    reading (set when ``rows`` are all the versions in force).
    """
    global _current
    versions = [PastVersion(row, read) for row in rows]
    problems = link_versions(cast(list[Policy], versions), refs_of=())  # checked when stored
    if problems:
        raise PolicyInvalid(problems)
    for row, version in zip(rows, versions, strict=True):
        if row.retired_on is not None:
            version.ends = row.retired_on if version.ends is None else min(version.ends, row.retired_on)
    parsed: dict[str, Policy] = {}
    policies: list[Policy] = []
    for row, version in zip(rows, versions, strict=True):
        if version.ended_before(today):
            codes = _code_sets.get(row.sha256)
            if codes is None:
                codes = _keep_codes(row.sha256, parse_policy_text(row.source, version.file))
            version.services = codes
            policies.append(cast(Policy, version))
            continue
        policy = _current.get(version.sha256) or parse_policy_text(row.source, version.file)
        parsed[version.sha256] = policy
        _keep_codes(version.sha256, policy)
        policies.append(dataclasses.replace(policy, ends=version.ends))
    if keep:
        _current = parsed
    return policies


_current: dict[str, Policy] = {}  # by content hash: the versions in force not ended, as last read


_past: OrderedDict[str, Policy] = OrderedDict()  # by content hash, least recently used first
_past_lock = threading.Lock()


def _parsed_past(version: PastVersion) -> Policy:
    with _past_lock:
        policy = _past.get(version.sha256)
        if policy is not None:
            _past.move_to_end(version.sha256)
            return policy
    policy = parse_policy_text(version.text(), version.file)
    with _past_lock:
        _past[version.sha256] = policy
        while len(_past) > PAST_PARSED:
            _past.popitem(last=False)
    return policy


_code_sets: dict[str, CodeSet] = {}  # by content hash, so a reload need not parse ended versions


def _keep_codes(sha256: str, policy: Policy) -> CodeSet:
    """Remember the codes a version applies to, for when it has ended."""
    if len(_code_sets) >= CODES:
        _code_sets.clear()
    codes = _code_sets[sha256] = policy.services
    return codes
