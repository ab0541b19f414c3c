"""The FHIR tests share the API tests' service, database and tokens (tests/api/conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.conftest import (  # noqa: F401
    _empty_tables,
    app,
    backend,
    client,
    database_url,
    doctor,
    frozen,
    nurse,
    submitter,
    token,
)
