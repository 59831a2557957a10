#!/usr/bin/env bash
# Installs the OpenTelemetry Python propagators that the differential test of
# tracewire-context compares against, into a private virtualenv.
#
# Usage: scripts/install-python-peers.sh [VENV_DIR]
#   VENV_DIR defaults to <repo>/target/python-peers. Prints the venv's python path
#   on its last line of stdout. Idempotent: when the pinned versions are already
#   installed it returns at once without touching the network.
#
# Needs only python3 (with the venv module or virtualenv) and network access to PyPI.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="${1:-$repo/target/python-peers}"

# Pinned peers: keep in step with docs/conformance.md.
pins=(
  "opentelemetry-api==1.45.2"
  "opentelemetry-sdk==1.45.2"
  "opentelemetry-propagator-aws-xray==1.0.2"
)
stamp="$venv/.tracewire-pins"
want="$(printf '%s\n' "${pins[@]}")"

py="$venv/bin/python"
if [[ -x "$py" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "$py"
  exit 0
fi

command -v python3 >/dev/null 2>&1 || { echo "install-python-peers: python3 not found" >&2; exit 2; }

if [[ ! -x "$py" ]]; then
  mkdir -p "$(dirname "$venv")"
  if ! python3 -m venv "$venv" >&2 2>/dev/null; then
    # Debian's python3 lacks ensurepip unless python3-venv is installed: fall back
    # to a venv without pip and bootstrap pip from the user-level pip if present.
    rm -rf "$venv"
    python3 -m venv --without-pip "$venv" >&2
    python3 -m pip --python "$py" --version >/dev/null 2>&1 \
      || { echo "install-python-peers: cannot create a venv with pip (install python3-venv)" >&2; exit 2; }
  fi
fi

if "$py" -m pip --version >/dev/null 2>&1; then
  "$py" -m pip install --quiet --disable-pip-version-check "${pins[@]}" >&2
else
  python3 -m pip --python "$py" install --quiet --disable-pip-version-check "${pins[@]}" >&2
fi

"$py" - <<'PY' >&2
import opentelemetry.propagators.textmap  # noqa: F401
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator  # noqa: F401
from opentelemetry.baggage.propagation import W3CBaggagePropagator  # noqa: F401
from opentelemetry.propagators.aws import AwsXRayPropagator  # noqa: F401
PY

printf '%s\n' "$want" > "$stamp"
echo "$py"
