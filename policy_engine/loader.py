"""Policy files to validated policy versions: YAML, then the JSON Schema, then semantics.

Loading fails loudly and completely: every problem in every file is reported with
``file:line: field: message`` before anything is used.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import re
from collections.abc import Iterable
from pathlib import Path

import jsonschema

from .checks import check_policy
from .errors import PolicyInvalid, Problem
from .limits import PolicyLimits
from .model import Policy, Ref, walk
from .parse import PolicyBuilder
from .schema_errors import schema_problems
from .values import to_json
from .yamlsource import SourceMap, YamlRefused, YamlSyntaxError, format_path, load

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "policy.schema.json"
_VERSION_FILE = re.compile(r"^v(\d+)\.ya?ml$")
_UNBOUNDED = PolicyLimits(2**62, 2**62, 2**62, 2**62)  # for re-reading a text already accepted


@functools.cache
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def policy_files(paths: Iterable[str | Path]) -> list[Path]:
    """Version files under the given files or folders (``tests.yaml`` is not a policy)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.y*ml") if _VERSION_FILE.match(p.name))
        else:
            found.append(path)
    return found


def parse_policy_text(text: str, file: str, limits: PolicyLimits | None = None) -> Policy:
    """One version from its YAML text; raises ``PolicyInvalid`` listing every problem."""
    try:
        data, source = load(text, limits or PolicyLimits.from_environment())
    except YamlSyntaxError as error:
        message = error.message if isinstance(error, YamlRefused) else f"invalid YAML: {error.message}"
        raise PolicyInvalid([Problem(file, error.line, error.field, message)]) from None
    if not isinstance(data, dict):
        raise PolicyInvalid([Problem(file, 1, "", "a policy file must be a YAML mapping")])
    problems = [
        Problem(file, source.line_of(path), format_path(path), message)
        # YAML dates as ISO strings: the schema sees what a JSON client would send
        for path, message in schema_problems(validator(), to_json(data))
    ]
    if problems:
        raise PolicyInvalid(problems)
    builder = PolicyBuilder(data, source, file, text)
    policy = builder.build()
    problems = [
        Problem(file, source.line_of(path), format_path(path), message) for path, message in builder.problems
    ]
    for node, suffix, message in check_policy(policy):
        field = f"{node.field}.{suffix}" if node else suffix
        line = source.line_of_field(field)
        problems.append(Problem(file, line, field, message))
    if problems:
        raise PolicyInvalid(problems)
    return policy


def load_policy_file(path: str | Path, limits: PolicyLimits | None = None) -> Policy:
    path, limits = Path(path), limits or PolicyLimits.from_environment()
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:  # refused unread: the file could be any size
            message = f"the file has {size:,} bytes; the limit is {limits.max_bytes:,}"
            raise PolicyInvalid([Problem(str(path), 1, "", message)])
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyInvalid([Problem(str(path), 1, "", f"cannot read the file: {error}")]) from None
    policy = parse_policy_text(text, str(path), limits)
    _check_file_name(policy, path)
    return policy


def _check_file_name(policy: Policy, path: Path) -> None:
    problems = []
    match = _VERSION_FILE.match(path.name)
    if match and int(match.group(1)) != policy.version:
        problems.append(
            Problem(
                str(path),
                _line(policy, "version"),
                "version",
                f"version {policy.version} does not match the file name {path.name}",
            )
        )
    if match and path.parent.name not in ("", ".", policy.id):
        problems.append(
            Problem(
                str(path),
                _line(policy, "id"),
                "id",
                f"id '{policy.id}' does not match its folder '{path.parent.name}'",
            )
        )
    if problems:
        raise PolicyInvalid(problems)


def load_policies(paths: Iterable[str | Path], limits: PolicyLimits | None = None) -> list[Policy]:
    """Every version under the paths, checked across versions and policies."""
    policies, problems, limits = [], [], limits or PolicyLimits.from_environment()
    for file in policy_files(paths):
        try:
            policies.append(load_policy_file(file, limits))
        except PolicyInvalid as invalid:
            problems += invalid.problems
    problems += link_versions(policies)
    if problems:
        raise PolicyInvalid(problems)
    return policies


def link_versions(policies: list[Policy], refs_of: Iterable[Policy] | None = None) -> list[Problem]:
    """Set each version's last date (edge rule 1) and report overlaps, duplicates, and
    references to other policies that resolve in none of their versions.

    ``refs_of``: the versions whose references are checked (all by default). Another
    version can only add nodes, never remove one, so a version's references, once they
    resolved, stay resolved: stored versions need no second look.
    """
    problems: list[Problem] = []
    by_id: dict[str, list[Policy]] = {}
    for policy in policies:
        by_id.setdefault(policy.id, []).append(policy)
    for versions in by_id.values():
        versions.sort(key=lambda p: p.version)
        for earlier, later in itertools.pairwise(versions):
            if earlier.version == later.version:
                problems.append(
                    Problem(
                        later.file,
                        1,
                        "version",
                        f"version {later.version} is also defined in {earlier.file}",
                    )
                )
                continue
            if later.effective <= earlier.effective:
                problems.append(
                    Problem(
                        later.file,
                        _line(later, "effective"),
                        "effective",
                        f"effective {later.effective} is not after that of version {earlier.version} "
                        f"({earlier.effective})",
                    )
                )
                continue
            if earlier.expires is None:
                earlier.ends = later.effective - dt.timedelta(days=1)
            elif earlier.expires >= later.effective:
                problems.append(
                    Problem(
                        earlier.file,
                        _line(earlier, "expires"),
                        "expires",
                        f"expires {earlier.expires} overlaps version {later.version}, "
                        f"effective {later.effective}",
                    )
                )
            else:
                earlier.ends = earlier.expires
        versions[-1].ends = versions[-1].expires
    problems += _check_cross_refs(policies if refs_of is None else refs_of, by_id)
    return problems


def _check_cross_refs(policies: Iterable[Policy], by_id: dict[str, list[Policy]]) -> list[Problem]:
    problems = []
    for policy in policies:
        for root in policy.roots():
            for node in walk(root):
                if isinstance(node, Ref) and node.policy not in (None, policy.id):
                    targets = by_id.get(node.policy)
                    if not targets:
                        problems.append(
                            Problem(
                                policy.file,
                                node.line,
                                f"{node.field}.ref",
                                f"refers to policy '{node.policy}', which is not loaded",
                            )
                        )
                    elif not any(node.target in other.nodes for other in reversed(targets)):
                        problems.append(
                            Problem(
                                policy.file,
                                node.line,
                                f"{node.field}.ref",
                                f"policy '{node.policy}' has no node '{node.target}'",
                            )
                        )
    return problems


def _line(policy: Policy, key: str) -> int:
    """Line of a top-level key; re-reads the text, which only error reports need."""
    _, source = load(policy.source, _UNBOUNDED)
    return source.line_of((key,))


__all__ = ["SourceMap", "load_policies", "load_policy_file", "parse_policy_text", "policy_files"]
