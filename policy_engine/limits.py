"""How large a policy file may be, and what the rules engine can hold.

A policy is read before anyone has judged it, so its reading must be bounded: a small
file must not expand into an enormous value (nested aliases), nest deeper than the
readers' recursion allows, or hold more values than validation can check in about a
second. The first three limits are settings; the engine's are facts about the C core,
measured and explained in docs/decisions/0009.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# What one leaf may hand the C core. A condition whose `$or` holds more than about 512
# alternatives makes ruleset creation hang; a few more than 12 code ranges (each is
# three comparisons) and it is rejected (error 113). Prefixes are tested by equality
# with the codes cut to each prefix length (never a `$mt` pattern, whose compiler leaks).
MAX_OPERAND_VALUES = 256
MAX_CODE_RANGES = 12


@dataclass(frozen=True)
class PolicyLimits:
    """Bounds on one policy file as read; ``POLICY_ENGINE_POLICY_MAX_*`` override them."""

    max_bytes: int = 1024 * 1024  # the size of the API's largest body
    max_nodes: int = 5_000  # mappings, lists and values, each alias counted as what it repeats
    max_depth: int = 64  # nesting of mappings and lists: about 30 nested groups
    max_digits: int = 100  # digits of an integer literal

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> PolicyLimits:
        """The defaults, overridden by ``POLICY_ENGINE_POLICY_MAX_BYTES`` (and ``_NODES``, ...)."""
        environ = os.environ if environ is None else environ
        given = {}
        for name in ("max_bytes", "max_nodes", "max_depth", "max_digits"):
            raw = environ.get(f"POLICY_ENGINE_POLICY_{name.upper()}")
            if raw:
                given[name] = int(raw)
        return cls(**given)
