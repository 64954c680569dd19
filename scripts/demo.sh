#!/usr/bin/env bash
# The live monitoring demo: Prometheus + `specmon run` + the order demo app with a bug;
# prints the violation report, the metric with its exemplar and the firing alert.
# Needs the virtual environment (make env) and Debian's prometheus package.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" scripts/demo_metrics.py "$@"
