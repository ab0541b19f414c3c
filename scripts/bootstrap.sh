# Sourced by the entry scripts: creates .venv with Python 3.11+ and installs the project with
# every dependency at the version constraints.txt pins.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# Install again whenever the declared dependencies or their pins change.
stamp=".venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install --quiet -c constraints.txt --upgrade pip
    .venv/bin/python -m pip install --quiet -c constraints.txt -e ".[dev]"
    rm -f .venv/.installed-*
    touch "$stamp"
fi
