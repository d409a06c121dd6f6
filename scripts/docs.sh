#!/usr/bin/env bash
# Regenerate the docs' generated parts (cog: scripts/docgen.py) and build the site into site/, strictly
# and offline, as tests/test_docs_site.py does in CI. Needs the docs extra: pip install -e '.[docs]'.
# `bash scripts/docs.sh serve` serves it on 127.0.0.1:8000 instead, rebuilding on every change.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
"$PY" -m cogapp -I scripts -r README.md docs/reference/cli.md docs/reference/columns.md \
  docs/reference/errors.md docs/reference/models.md
export NO_MKDOCS_2_WARNING=1  # Material's banner about its successor; nothing to act on here
if [ "${1:-}" = serve ]; then
  exec "$PY" -m mkdocs serve --strict --dev-addr 127.0.0.1:8000
fi
"$PY" -m mkdocs build --strict
