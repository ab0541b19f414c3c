"""FHIR errors: every failure under /fhir is an OperationOutcome naming where the problem is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# HTTP status -> the OperationOutcome issue code that says the same thing
ISSUE_CODES = {
    400: "structure",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "invalid",
    429: "throttled",
    503: "transient",
}


def nearest_source(where: dict[str, str], path: str, default: str) -> str:
    """The FHIRPath a request field came from: its own, its nearest mapped ancestor's, or ``default``."""
    while path:
        if path in where:
            return where[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return default


@dataclass(frozen=True)
class Issue:
    """One problem: what is wrong and, where known, the FHIRPath of the element at fault."""

    diagnostics: str
    expression: str | None = None
    code: str = "invalid"
    severity: str = "error"

    def as_dict(self) -> dict[str, Any]:
        issue: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            issue["expression"] = [self.expression]
        return issue


class FhirProblem(Exception):
    """A request the FHIR adapters refuse, with its HTTP status and every issue found."""

    def __init__(self, status: int, issues: list[Issue]) -> None:
        super().__init__("; ".join(issue.diagnostics for issue in issues))
        self.status = status
        self.issues = issues


def problem(
    status: int, diagnostics: str, expression: str | None = None, code: str | None = None
) -> FhirProblem:
    return FhirProblem(status, [Issue(diagnostics, expression, code or ISSUE_CODES.get(status, "invalid"))])


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [issue.as_dict() for issue in issues]}


def fhirpath(location: tuple[Any, ...], root: str = "Bundle") -> str:
    """``('entry', 0, 'resource', 'birthDate')`` -> ``Bundle.entry[0].resource.birthDate``."""
    text = root
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text
