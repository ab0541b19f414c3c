"""Path parameters: a version number is a whole number from 1 to ``MAX_VERSION``.

Anything else matches no route (a 404), so no number too large for a database column
reaches a query, and the OpenAPI document states the range.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map

from ..model import MAX_VERSION


class VersionConverter(IntegerConverter):
    """``<version:n>``: an integer in 1..MAX_VERSION."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(map, min=1, max=MAX_VERSION)
