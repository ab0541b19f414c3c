"""``policy-engine``: the authors' and operators' command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .engine.evaluator import Evaluator
from .engine.trace import decision_dict, render_text
from .errors import PolicyInvalid
from .loader import load_policies, policy_files
from .testing import find_test_files, run_tests


@click.group()
@click.version_option(package_name="policy-engine")
def main() -> None:
    """Medical policy and prior-authorization rules engine."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
def validate(paths: tuple[str, ...]) -> None:
    """Check policy files: YAML, schema and semantics; errors as file:line: field: message."""
    try:
        policies = load_policies(paths)
    except PolicyInvalid as invalid:
        for problem in invalid.problems:
            click.echo(str(problem), err=True)
        click.echo(f"{len(invalid.problems)} problem(s) found.", err=True)
        sys.exit(1)
    for policy in policies:
        click.echo(f"ok  {policy.file}  {policy.key}  sha256:{policy.sha256[:12]}")
    click.echo(f"{len(policies)} policy version(s) valid.")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--verbose", "-v", is_flag=True, help="List passing cases too.")
def test(paths: tuple[str, ...], verbose: bool) -> None:
    """Run the tests.yaml cases of the policies under PATHS."""
    try:
        evaluator = Evaluator(load_policies(paths))
        results = run_tests(evaluator, find_test_files(list(paths)))
    except PolicyInvalid as invalid:
        for problem in invalid.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)
    failed = [r for r in results if not r.passed]
    for result in results:
        if result.passed and not verbose:
            continue
        mark = click.style("PASS", fg="green") if result.passed else click.style("FAIL", fg="red")
        click.echo(f"{mark}  {result.policy}: {result.name}  ({result.file}:{result.line})")
        for failure in result.failures:
            click.echo(f"        {failure}")
    click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed or not results:
        sys.exit(1)


@main.command()
@click.option("--policies", "policy_dir", required=True, type=click.Path(exists=True), help="Policy folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
@click.argument("request_file", type=click.File("r"))
def evaluate(policy_dir: str, as_json: bool, request_file) -> None:
    """Evaluate REQUEST.json offline and print the determination and trace."""
    try:
        request = json.load(request_file)
    except json.JSONDecodeError as error:
        click.echo(f"{request_file.name}:{error.lineno}: invalid JSON: {error.msg}", err=True)
        sys.exit(1)
    if not isinstance(request, dict):
        click.echo(f"{request_file.name}: a request must be a JSON object", err=True)
        sys.exit(1)
    try:
        evaluator = Evaluator(load_policies([policy_dir]))
    except PolicyInvalid as invalid:
        click.echo(str(invalid), err=True)
        sys.exit(1)
    data = decision_dict(evaluator.evaluate(request))
    click.echo(json.dumps(data, indent=2) if as_json else render_text(data))


@main.command()
@click.argument("old_file", type=click.Path(exists=True, dir_okay=False))
@click.argument("new_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the diff as JSON.")
def diff(old_file: str, new_file: str, as_json: bool) -> None:
    """Compare two versions of a policy: what changed, and whether it tightens or loosens."""
    from .diff import diff_policies
    from .diff import render_text as render_diff
    from .loader import load_policy_file

    versions, problems = [], []
    for path in (old_file, new_file):
        try:
            versions.append(load_policy_file(path))
        except PolicyInvalid as invalid:
            problems += invalid.problems
    if problems:
        for problem in problems:
            click.echo(str(problem), err=True)
        click.echo(f"{len(problems)} problem(s) found.", err=True)
        sys.exit(1)
    result = diff_policies(*versions)
    click.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False) if as_json else render_diff(result))


@main.command("list")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
def list_files(paths: tuple[str, ...]) -> None:
    """List the policy version files found under PATHS."""
    for path in policy_files(paths):
        click.echo(str(Path(path)))


def _add_operations() -> None:
    from .operations import COMMANDS

    for command in COMMANDS:
        main.add_command(command)


_add_operations()
