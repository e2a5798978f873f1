#!/usr/bin/env bash
# Runs pytest with the numora_fake plugin (clients/python) loaded:
#
#   scripts/ci/pytest.sh tests/                 # your tests; pytest arguments pass through
#   PYTHON=.venv/bin/python scripts/ci/pytest.sh tests/
#
# The plugin starts mock-server ($NUMORA_FAKE_BIN or PATH) once per session,
# or attaches to $NUMORA_FAKE_URL (set by scripts/ci/start-fake.sh).
# Python: $PYTHON, else python3. When it has no pytest, a venv with a pinned
# pytest is made once in $NUMORA_PYTEST_VENV (default ~/.cache/numora-pytest),
# outside the repository, so CI can cache it.
# Exit codes are pytest's, except that "no tests collected" (pytest's 5) is
# reported as such and fails: a test path that matches nothing is a broken job.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTEST_VERSION="9.2.0"
python="${PYTHON:-python3}"
command -v "$python" >/dev/null 2>&1 || { echo "pytest.sh: $python is required" >&2; exit 1; }

if ! "$python" -c 'import pytest' >/dev/null 2>&1; then
  venv="${NUMORA_PYTEST_VENV:-$HOME/.cache/numora-pytest}"
  if ! "$venv/bin/python" -c 'import pytest' >/dev/null 2>&1; then
    echo "# installing pytest $PYTEST_VERSION into $venv" >&2
    "$python" -m venv "$venv" || { echo "pytest.sh: cannot create a venv in $venv (python3-venv missing?)" >&2; exit 1; }
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "pytest==$PYTEST_VERSION" \
      || { echo "pytest.sh: pip install pytest==$PYTEST_VERSION failed" >&2; exit 1; }
  fi
  python="$venv/bin/python"
fi

export PYTHONPATH="$repo/clients/python${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
status=0
"$python" -m pytest -p numora_fake.plugin -p no:cacheprovider "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest.sh: pytest collected no tests from: ${*:-.} (check the test path)" >&2
fi
exit "$status"
