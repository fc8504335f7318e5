#!/bin/sh
# Installs the example app's pinned requirements into a virtual environment.
# Usage: examples/incident-app/install.sh [VENV]   (default: examples/incident-app/.venv)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv=${1:-$here/.venv}
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
echo "installed into $venv; run: $venv/bin/python $here/app.py --port 8000"
