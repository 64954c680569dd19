# specmon's image (docs/deploy.md): `docker build -t specmon .`
#
# Offline: put every wheel in deploy/image/wheels/ first (deploy/image/build.sh wheels);
# the build then never reaches an index. Behind a TLS-intercepting proxy, give pip the CA
# bundle as a build secret (never a layer):
#   docker build --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt -t specmon .
#   podman build --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt -t specmon .
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY deploy/image/wheels/ /wheels/
COPY pyproject.toml README.md ./
# Dependencies first (with uvloop, the daemon's faster event loop), against an empty
# package, so that a source change rebuilds only the last layer. Offline when /wheels holds wheels (`set --` adds the flags); PIP_CERT only
# when the `ca` secret is given.
RUN --mount=type=secret,id=ca \
    set -eu; \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    set --; \
    if ls /wheels/*.whl >/dev/null 2>&1; then set -- --no-index --find-links /wheels; fi; \
    python -m venv /opt/specmon; \
    mkdir monitor && touch monitor/__init__.py; \
    /opt/specmon/bin/pip install --no-cache-dir "$@" "/src[uvloop]"; \
    rm -rf monitor build ./*.egg-info
COPY monitor/ monitor/
RUN --mount=type=secret,id=ca \
    set -eu; \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    set --; \
    if ls /wheels/*.whl >/dev/null 2>&1; then set -- --no-index --find-links /wheels; fi; \
    /opt/specmon/bin/pip install --no-cache-dir --no-deps --force-reinstall "$@" /src; \
    /opt/specmon/bin/specmon --help >/dev/null

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="specmon" \
      org.opencontainers.image.description="Runtime monitor: checks production telemetry against an executable Python spec" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/specmon/specmon" \
      org.opencontainers.image.documentation="https://github.com/specmon/specmon/blob/main/docs/deploy.md"
# a fixed UID/GID (10001) so Kubernetes' runAsNonRoot can verify it without /etc/passwd;
# /var/lib/specmon (checkpoints) is the only writable path, a volume
RUN groupadd --gid 10001 specmon \
 && useradd --uid 10001 --gid 10001 --home-dir /var/lib/specmon --no-create-home \
      --shell /usr/sbin/nologin specmon \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/specmon
COPY --from=build /opt/specmon /opt/specmon
# bytecode was compiled at install time; a read-only root must not try to write more
ENV PATH=/opt/specmon/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /var/lib/specmon
VOLUME ["/var/lib/specmon"]
# OTLP/gRPC, OTLP/HTTP, admin (/metrics /healthz /readyz)
EXPOSE 4317 4318 9464
ENTRYPOINT ["specmon"]
CMD ["run", "/etc/specmon/config/config.yaml"]
