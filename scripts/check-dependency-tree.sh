#!/usr/bin/env bash
# The dependency promises of docs/architecture.md, checked on the locked tree:
# - the collector never depends on the session converter;
# - tracewire-ws with default features is the WebSocket wrapper alone (no OTLP exporter,
#   no HTTP client, no aws-lc C build);
# - tracewire-otlp with no features is the span model and configuration alone.
set -euo pipefail
cd "$(dirname "$0")/.."

failed=0
refuse() { # refuse CRATE ARGS... -- FORBIDDEN...
    local crate=$1; shift
    local args=()
    while [[ $1 != -- ]]; do args+=("$1"); shift; done
    shift
    local tree
    tree=$(cargo tree --locked -p "$crate" -e normal --prefix none "${args[@]}")
    for forbidden in "$@"; do
        if grep -q "^$forbidden v" <<<"$tree"; then
            echo "check-dependency-tree: $crate ${args[*]} depends on $forbidden"
            failed=1
        fi
    done
}

refuse tracewire-collector --all-features -- tracewire-session
refuse tracewire-ws -- tracewire-session opentelemetry-otlp reqwest aws-lc-sys tracewire-otlp opentelemetry_sdk
refuse tracewire-otlp --no-default-features -- opentelemetry-proto opentelemetry_sdk tokio reqwest prost

if [[ $failed -ne 0 ]]; then
    exit 1
fi
echo "check-dependency-tree: every promised absence holds"
