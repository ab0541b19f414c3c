"""Schema-valid policy data to the policy model, with derived ids for unnamed nodes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from . import expressions
from .model import (
    COMPARISONS,
    Document,
    FactRef,
    Frequency,
    Group,
    Leaf,
    Node,
    NOf,
    Not,
    Policy,
    Quantifier,
    Ref,
    Reference,
    Window,
)
from .values import CodeSet, normalize, normalize_code
from .yamlsource import Path, SourceMap, format_path

CODE_LISTS = ("services", "history")
_COMMON = ("id", "text", "cite", "applies_when", "if_absent")


def canonical_json(data: Any) -> str:
    """The form a version's sha256 is taken over: sorted keys, ISO dates, no spacing."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=_iso, ensure_ascii=False)


def _iso(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot hash {type(value).__name__}")


def content_sha256(data: Any) -> str:
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()


class PolicyBuilder:
    """Builds one policy version; problems are collected, not raised, so all are reported."""

    def __init__(self, data: dict[str, Any], source: SourceMap, file: str, text: str) -> None:
        self.data = data
        self.source = source
        self.file = file
        self.text = text
        self.problems: list[tuple[Path, str]] = []
        self.nodes: dict[str, Node] = {}
        self._derived_ids: dict[str, int] = {}

    def problem(self, path: Path, message: str) -> None:
        self.problems.append((path, message))

    def build(self) -> Policy:
        data = self.data
        applies = data["applies_to"]
        derive = {}
        for name, source in (data.get("derive") or {}).items():
            try:
                derive[name] = expressions.parse(source)
            except expressions.ExpressionError as error:
                self.problem(("derive", name), f"column {error.column}: {error.message}")
        policy = Policy(
            id=data["id"],
            version=data["version"],
            title=data["title"],
            effective=_date(data["effective"]),
            expires=_date(data["expires"]) if data.get("expires") else None,
            owner=data["owner"],
            summary=data["summary"],
            references={
                ref["id"]: Reference(ref["id"], ref["title"], ref.get("url")) for ref in data["references"]
            },
            services=CodeSet(applies["services"]),
            service_specs=tuple(applies["services"]),
            when=self.node(applies["when"], ("applies_to", "when"), {}) if applies.get("when") else None,
            derive=derive,
            coverage=tuple(
                self.node(item, ("coverage", i), {}) for i, item in enumerate(data.get("coverage") or [])
            ),
            documentation=tuple(
                self.node(item, ("documentation", i), {}, documents=True)
                for i, item in enumerate(data.get("documentation") or [])
            ),
            criteria=self.node(data["criteria"], ("criteria",), {}) if data.get("criteria") else None,
            sha256=content_sha256(data),
            source=self.text,
            file=self.file,
        )
        policy.nodes = self.nodes
        policy.derive_names = frozenset(data.get("derive") or {})
        return policy

    def node(self, raw: dict[str, Any], path: Path, scope: dict[str, str], documents: bool = False) -> Node:
        """``scope`` maps quantifier variables to the list they range over."""
        common: dict[str, Any] = {
            "field": format_path(path),
            "line": self.source.line_of(path),
            "text": raw.get("text"),
            "cite": raw.get("cite"),
            "if_absent": raw.get("if_absent"),
        }
        if raw.get("applies_when"):
            common["applies_when"] = self.node(raw["applies_when"], (*path, "applies_when"), scope)
        node = self._form(raw, path, scope, documents, common)
        self._register(node, raw, path)
        return node

    def _form(
        self, raw: dict[str, Any], path: Path, scope: dict[str, str], documents: bool, common: dict[str, Any]
    ) -> Node:
        def children(key: str, items: list[Any], at: Path) -> tuple[Node, ...]:
            return tuple(self.node(item, (*at, i), scope, documents) for i, item in enumerate(items))

        if "all" in raw or "any" in raw:
            kind = "all" if "all" in raw else "any"
            return Group(kind=kind, items=children(kind, raw[kind], (*path, kind)), **common)
        if "n_of" in raw:
            spec = raw["n_of"]
            items = children("of", spec["of"], (*path, "n_of", "of"))
            return NOf(n=spec["n"], items=items, **common)
        if "not" in raw:
            return Not(item=self.node(raw["not"], (*path, "not"), scope, documents), **common)
        if "ref" in raw:
            target = raw["ref"]
            if isinstance(target, dict):
                return Ref(target=target["node"], policy=target["policy"], **common)
            return Ref(target=target, policy=None, **common)
        if "some" in raw or "every" in raw:
            kind = "some" if "some" in raw else "every"
            var = raw.get("as", "item")
            list_path = raw[kind]
            inner = {**scope, var: list_path.split(".")[0].split("[")[0]}
            where = self.node(raw["where"], (*path, "where"), inner)
            return Quantifier(kind=kind, list_path=list_path, var=var, where=where, **common)
        if "frequency" in raw:
            spec = raw["frequency"]
            return Frequency(
                code_specs=tuple(spec["service"]), max=spec["max"], window=_window(spec["per"]), **common
            )
        if "fact" in raw:
            return self._leaf(raw, path, scope, common)
        return Document(**common)

    def _leaf(self, raw: dict[str, Any], path: Path, scope: dict[str, str], common: dict[str, Any]) -> Leaf:
        op = next(key for key in raw if key not in (*_COMMON, "fact"))
        fact = raw["fact"]
        codes = is_code_fact(fact, scope) or op == "any_prefix"
        value = raw[op]
        if op in COMPARISONS:
            operand: Any = _operand(value, codes)
        elif op == "between":
            operand = tuple(_operand(bound, False) for bound in value)
        elif op == "exists":
            operand = bool(value)
        elif op == "any_prefix":
            operand = tuple(normalize_code(prefix) for prefix in value)
        else:
            operand = tuple(_literal(item, codes) for item in value)
        return Leaf(fact=fact, op=op, operand=operand, codes=codes, **common)

    def _register(self, node: Node, raw: dict[str, Any], path: Path) -> None:
        explicit = raw.get("id")
        if explicit is None:
            node.explicit_id = False
            node.id = self._derived_id(node)
        else:
            node.id = explicit
        if explicit is not None and explicit in self.nodes and self.nodes[explicit].explicit_id:
            first = self.nodes[explicit]
            self.problem((*path, "id"), f"duplicate id '{explicit}' (first used at line {first.line})")
            return
        self.nodes[node.id] = node

    def _derived_id(self, node: Node) -> str:
        if isinstance(node, Leaf):
            base = f"{node.fact}-{node.op}-{_operand_text(node.operand)}"
        else:
            base = node.field
        count = self._derived_ids.get(base, 0) + 1
        self._derived_ids[base] = count
        return base if count == 1 else f"{base}~{count}"


def is_code_fact(fact: str, scope: dict[str, str]) -> bool:
    """Fields compared as codes (edge rule 15)."""
    root, _, rest = fact.partition(".")
    root = root.split("[")[0]
    if root in ("diagnoses", "primary_diagnosis"):
        return True
    if root == "service" and rest == "code":
        return True
    if root in CODE_LISTS and rest.endswith("code"):
        return True
    return scope.get(root) in CODE_LISTS and rest == "code"


def _operand(value: Any, codes: bool) -> Any:
    if isinstance(value, dict):
        return FactRef(value["fact"])
    return _literal(value, codes)


def _literal(value: Any, codes: bool) -> Any:
    if codes and isinstance(value, str):
        return value.strip().upper() if "-" in value else normalize_code(value)
    return normalize(value)


def _operand_text(operand: Any) -> str:
    if isinstance(operand, FactRef):
        return operand.path
    if isinstance(operand, tuple):
        text = ",".join(_operand_text(item) for item in operand)
        return text if len(text) <= 40 else text[:37] + "..."
    if isinstance(operand, dt.date):
        return operand.isoformat()
    if isinstance(operand, bool):
        return str(operand).lower()
    return str(operand)


def _window(per: Any) -> Window:
    if isinstance(per, dict):
        return Window("full_months", per["full_months"])
    if per == "calendar_year":
        return Window("calendar_year")
    amount, unit = int(per[:-1]), per[-1]
    return Window("m", amount * 12) if unit == "y" else Window(unit, amount)


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))
