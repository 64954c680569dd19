# Two entry points (README): `make demo` and `make test`. Both create the virtual
# environment on first use; nothing outside the repository is installed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SPECMON := $(VENV)/bin/specmon

.PHONY: native env demo demo-replay prometheus demo-order demo-live test bench bench-otlp bench-latency bench-daemon bench-kafka lint clean image

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# The per-event modules (engine, JSON-events mapping) compiled with mypyc, in place
# (tools/native.py, monitor/native.py); rebuilt whenever one of their sources changes.
# NATIVE=0 skips it: the same code runs as Python.
NATIVE ?= 1
$(VENV)/.native: $(VENV)/.installed tools/native.py $(wildcard monitor/engine/*.py monitor/mapping/*.py)
	@echo "compiling the engine and mapping with mypyc (tools/native.py; log: build/native.log)"
	@mkdir -p build
	@$(PY) tools/native.py build_ext --inplace >build/native.log 2>&1 \
	  || { tail -30 build/native.log; echo "engine build failed: fix it, or NATIVE=0 to run it as Python"; exit 1; }
	@touch $@

ifeq ($(NATIVE),1)
env: $(VENV)/.installed $(VENV)/.native
else
env: $(VENV)/.installed
	@rm -f monitor/engine/*.so monitor/mapping/*.so $(VENV)/.native
endif

native: $(VENV)/.native

# The whole loop (README's first command): Debian's prometheus if it is missing (as root),
# then `specmon run` on the order saga, Prometheus evaluating the shipped alert rules, the
# demo app exporting spans with a bug over OTLP/HTTP: the violation report with its
# counterexample, the metric with its trace-id exemplar, the firing SpecViolation alert.
demo: env prometheus demo-live

# idempotent; without root (or apt) the live demo still runs, without the alert part
prometheus:
	@command -v prometheus >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus) \
	  || echo "prometheus is not installed (apt-get install prometheus): the demo skips the alert"; }

# Offline: replays the bundled payment log: a violation is caught and explained (exit 1 means
# "violations found", which is the point of the demo).
demo-replay: env
	@mkdir -p out
	@echo "== specmon validate specs/payment"
	@$(SPECMON) validate specs/payment
	@echo
	@echo "== specmon replay specs/payment specs/payment/samples/demo.jsonl --report out/demo-reports.jsonl"
	@$(SPECMON) replay specs/payment specs/payment/samples/demo.jsonl --report out/demo-reports.jsonl; \
	  rc=$$?; if [ $$rc -ne 1 ]; then echo "demo: expected exit 1 (violations), got $$rc"; exit 1; fi
	@echo
	@echo "== the first full report (out/demo-reports.jsonl)"
	@head -n 1 out/demo-reports.jsonl | $(PY) -m json.tool

# The order saga (specs/order): the demo app emits its spans with the OpenTelemetry SDK,
# one bug injected, as OTLP JSON lines; specmon replays them (exit 1: violations found).
demo-order: env
	@mkdir -p out
	@echo "== python specs/order/app.py --bug retry-declined --file out/orders.jsonl --truth out/orders.truth.jsonl"
	@$(PY) specs/order/app.py --bug retry-declined --file out/orders.jsonl --truth out/orders.truth.jsonl
	@echo "== specmon replay specs/order out/orders.jsonl --report out/order-reports.jsonl"
	@$(SPECMON) replay specs/order out/orders.jsonl --report out/order-reports.jsonl; \
	  rc=$$?; if [ $$rc -ne 1 ]; then echo "demo-order: expected exit 1 (violations), got $$rc"; exit 1; fi
	@echo "== what the app injected (out/orders.truth.jsonl)"
	@cat out/orders.truth.jsonl

# The live loop: `specmon run` on the order saga, Prometheus scraping it with the shipped
# alert rules (when Debian's prometheus is installed), the app exporting spans with a bug
# over OTLP/HTTP, the violation report with its counterexample, the violation counter with
# its trace-id exemplar, the firing SpecViolation alert; SIGTERM at the end (exit 0).
demo-live: env
	@PATH="$(VENV)/bin:$$PATH" $(PY) specs/order/demo_live.py --out out

# what the write-ahead log costs per OTLP request, against the same work without it
bench-daemon: env
	$(PY) bench/daemon.py --batches 200 --repeat 3

test: env lint
	$(PY) -m pytest -q -p no:cacheprovider

lint: env
	$(VENV)/bin/ruff check monitor tests bench specs tools

bench: env
	$(PY) bench/replay.py

# spans/s through the OTLP receivers into the engine, against protobuf parse-only
bench-otlp: env
	$(PY) bench/otlp.py

# events/s of the Kafka source (1 and 2 replicas) against plain aiokafka consume + decode
bench-kafka: env
	$(PY) bench/kafka.py

# event-to-violation-metric latency of `specmon run` at 20k and 50k spans/s (README table)
bench-latency: env
	$(PY) bench/latency.py

# the container image with podman, offline (docs/deploy.md): localhost/specmon:dev
image:
	bash deploy/image/build.sh image localhost/specmon:dev

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis build monitor/engine/*.so monitor/mapping/*.so
