"""The domain's exceptions, each with a stable string code for clients."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a policy file, located as ``file:line: field: message``."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        location = f"{self.file}:{self.line}"
        return f"{location}: {self.field}: {self.message}" if self.field else f"{location}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "field": self.field, "message": self.message}


class PolicyError(Exception):
    """Base of every error the policy core raises."""

    code = "policy_error"


class PolicyInvalid(PolicyError):
    """One or more policy files failed validation."""

    code = "policy_invalid"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.field))
        super().__init__("\n".join(str(problem) for problem in self.problems))


class PolicyNotFound(PolicyError):
    code = "policy_not_found"


class PolicyConflict(PolicyError):
    """A stored version would change: approved versions are immutable."""

    code = "policy_conflict"


class EvaluationError(PolicyError):
    """The engine failed while evaluating; never a statement about the request."""

    code = "evaluation_error"


class ServiceError(Exception):
    """Base of the errors the service raises about a call; the API maps each to a status."""

    code = "service_error"

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class RequestInvalid(ServiceError):
    """The request cannot be judged as sent (e.g. a fact of the wrong type); nothing is recorded."""

    code = "invalid_request"


class RequestConflict(ServiceError):
    """The request key was already used for a different request."""

    code = "request_conflict"


class NotFound(ServiceError):
    code = "not_found"


class Forbidden(ServiceError):
    """The caller's role admits the call, but not this use of it (e.g. a nurse denying)."""

    code = "forbidden"


class Conflict(ServiceError):
    """The case is not in a state that admits the call (claimed, decided, already extended)."""

    code = "conflict"
