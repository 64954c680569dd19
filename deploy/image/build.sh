#!/usr/bin/env bash
# Build the specmon image with podman, without a Docker engine and without an image
# registry (docs/deploy.md, "Building the image").
#
#   deploy/image/build.sh base            # the python:3.11-slim stand-in, from Debian packages
#   deploy/image/build.sh wheels          # every wheel the image needs, into deploy/image/wheels/
#   deploy/image/build.sh image [TAG]     # base + wheels + podman build (offline), default localhost/specmon:dev
#   deploy/image/build.sh demo [TAG [IMAGE_TAG]]  # image + the OpenTelemetry SDK and specs/ (tests, pod demo)
#   deploy/image/build.sh conf            # the CONTAINERS_CONF file it uses (runc, ulimits)
#
# Each step reuses what exists: the base image when podman already has it (debootstrap takes
# ~30 s, the stand-in's apt-get ~20 s), wheels already downloaded. Everything runs as root
# (podman's default storage under /var/lib/containers persists between runs on one machine).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/deploy/image"
WHEELS="$HERE/wheels"
PY=${PYTHON:-python3}
BASE_TAG=docker.io/library/python:3.11-slim
MINBASE_TAG=localhost/debian:bookworm-minbase
# root (CI) caches under /var/cache, anyone else under ~/.cache
if [ -w /var/cache ]; then CACHE=${SPECMON_IMAGE_CACHE:-/var/cache/specmon-image}
else CACHE=${SPECMON_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/specmon-image}; fi

# runc, and ulimits podman's defaults exceed in unprivileged CI containers (TOOLS.md)
if [ -z "${CONTAINERS_CONF:-}" ]; then
  mkdir -p "$CACHE"
  printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n[engine]\nruntime = "runc"\n' \
    > "$CACHE/containers.conf"
  export CONTAINERS_CONF="$CACHE/containers.conf"
fi

# what the image installs (specmon with uvloop) and what the demo image adds (the SDK)
WHEEL_SPECS=("$ROOT[uvloop]" opentelemetry-sdk opentelemetry-exporter-otlp-proto-http)

log() { echo "build.sh: $*" >&2; }

mirror() {
  # the mirror apt is configured with (deb822 sources first, then the one-line format)
  local m
  m=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | head -n1 | awk '{print $2}')
  [ -n "$m" ] || m=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | head -n1 | awk '{print $2}')
  echo "${m:-http://deb.debian.org/debian}"
}

base() {
  if podman image exists "$BASE_TAG"; then
    log "reusing $BASE_TAG"
    return
  fi
  if ! podman image exists "$MINBASE_TAG"; then
    local rootfs
    rootfs=$(mktemp -d "${TMPDIR:-/tmp}/specmon-rootfs.XXXXXX")
    log "debootstrap bookworm from $(mirror) (~30 s)"
    debootstrap --variant=minbase bookworm "$rootfs" "$(mirror)" >"$rootfs.log" 2>&1 \
      || { tail -n 20 "$rootfs.log" >&2; rm -rf "$rootfs"; exit 1; }
    tar -C "$rootfs" -c . | podman import - "$MINBASE_TAG" >/dev/null
    rm -rf "$rootfs" "$rootfs.log"
  fi
  log "building the $BASE_TAG stand-in"
  podman build -q -t "$BASE_TAG" -f "$HERE/python-slim.Containerfile" "$HERE" >/dev/null
}

wheels() {
  mkdir -p "$WHEELS"
  # reuse the directory while pyproject.toml and WHEEL_SPECS are unchanged
  local stamp
  stamp=$({ cat "$ROOT/pyproject.toml"; echo "${WHEEL_SPECS[*]}"; } | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$WHEELS/.stamp" 2>/dev/null)" = "$stamp" ]; then
    log "reusing wheels in $WHEELS"
    return
  fi
  log "wheels into $WHEELS"
  # pip's output only when it fails (index warnings are noise here); setuptools and wheel
  # are the build backend, so `pip install /src` works with --no-index too
  local out
  out=$(mktemp)
  if ! { "$PY" -m pip wheel --quiet --disable-pip-version-check -w "$WHEELS" "${WHEEL_SPECS[@]}" \
         && "$PY" -m pip download --quiet --disable-pip-version-check -d "$WHEELS" "setuptools>=68" wheel; \
       } >"$out" 2>&1; then
    cat "$out" >&2; rm -f "$out"; exit 1
  fi
  rm -f "$out"
  # the image builds specmon from the source; a wheel of it here would only break the cache
  rm -f "$WHEELS"/specmon-*.whl
  echo "$stamp" >"$WHEELS/.stamp"
}

# podman build, dropping the image the tag pointed at before (no pile of dangling images)
build() {
  local tag=$1; shift
  local old
  old=$(podman image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
  podman build -q --network=none -t "$tag" "$@" >/dev/null
  if [ -n "$old" ] && [ "$old" != "$(podman image inspect --format '{{.Id}}' "$tag")" ]; then
    podman rmi "$old" >/dev/null 2>&1 || true
  fi
}

image() {
  local tag=${1:-localhost/specmon:dev}
  base
  wheels
  log "podman build $tag (offline, from wheels)"
  build "$tag" -f "$ROOT/Dockerfile" "$ROOT"
  echo "$tag"
}

demo() {
  local tag=${1:-localhost/specmon:demo}
  local img
  img=$(image "${2:-localhost/specmon:dev}")
  build "$tag" --build-arg "IMAGE=$img" -f "$HERE/demo.Containerfile" "$ROOT"
  echo "$tag"
}

case "${1:-}" in
  base) base ;;
  wheels) wheels ;;
  image) image "${2:-}" ;;
  demo) demo "${2:-}" "${3:-}" ;;
  conf) echo "$CONTAINERS_CONF" ;;
  *) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
