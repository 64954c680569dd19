#!/usr/bin/env bash
# The live monitoring demo (make demo-live): `specmon run`, Prometheus with the shipped
# alert rules, the order demo app with a bug; prints the violation report, the metric with
# its trace-id exemplar and the firing SpecViolation alert. Needs the virtual environment
# (make env) and, for the alert, Debian's prometheus package.
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$PWD/.venv/bin:$PATH" exec "${PYTHON:-.venv/bin/python}" specs/order/demo_live.py "$@"
