#!/usr/bin/env python3
"""Differential-test peer: runs the OpenTelemetry Python propagators over header sets.

Reads one JSON object per line on stdin:
    {"id": "case-name", "headers": [["traceparent", "00-..."], ["tracestate", "a=1"], ...]}
(a header name may repeat: repeated headers are handed to the propagators as a
multi-valued carrier entry, the way an HTTP framework presents them), and writes one
JSON object per line on stdout with what each propagator extracts and what it injects
back from the extracted context:
    {"id": ..., "w3c": null | {"trace_id", "span_id", "flags", "tracestate": [[k, v], ...]},
     "w3c_inject": {"traceparent": ..., "tracestate": ...},
     "baggage": [[k, v], ...], "baggage_inject": str | null,
     "xray": null | {"trace_id", "span_id", "sampled"}, "xray_inject": str | null,
     "errors": {"<propagator>": "<exception text>"}}
Used by crates/tracewire-context/tests/differential_python.rs; install the peers first
with scripts/install-python-peers.sh.
"""

import json
import logging
import sys

from opentelemetry import baggage as otel_baggage
from opentelemetry import trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.aws import AwsXRayPropagator
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

logging.disable(logging.CRITICAL)


class CaseInsensitiveGetter(Getter):
    """Header lookup that ignores case and returns every value of a repeated header."""

    def get(self, carrier, key):
        values = carrier.get(key.lower())
        return list(values) if values else None

    def keys(self, carrier):
        return list(carrier.keys())


GETTER = CaseInsensitiveGetter()
W3C = TraceContextTextMapPropagator()
BAGGAGE = W3CBaggagePropagator()
XRAY = AwsXRayPropagator()


def span_view(ctx):
    sc = trace.get_current_span(ctx).get_span_context()
    if not sc.is_valid:
        return None
    return sc


def run_case(case):
    carrier = {}
    for name, value in case["headers"]:
        carrier.setdefault(name.lower(), []).append(value)
    out = {"id": case["id"], "errors": {}}

    try:
        ctx = W3C.extract(carrier, context=Context(), getter=GETTER)
        sc = span_view(ctx)
        if sc is None:
            out["w3c"] = None
        else:
            out["w3c"] = {
                "trace_id": f"{sc.trace_id:032x}",
                "span_id": f"{sc.span_id:016x}",
                "flags": int(sc.trace_flags),
                "tracestate": [[k, v] for k, v in sc.trace_state.items()],
            }
        injected = {}
        W3C.inject(injected, context=ctx)
        out["w3c_inject"] = injected
    except Exception as exc:  # noqa: BLE001 - a peer exception is a result to report
        out["w3c"] = None
        out["w3c_inject"] = {}
        out["errors"]["w3c"] = repr(exc)

    try:
        ctx = BAGGAGE.extract(carrier, context=Context(), getter=GETTER)
        out["baggage"] = [[k, str(v)] for k, v in otel_baggage.get_all(ctx).items()]
        injected = {}
        BAGGAGE.inject(injected, context=ctx)
        out["baggage_inject"] = injected.get("baggage")
    except Exception as exc:  # noqa: BLE001
        out["baggage"] = []
        out["baggage_inject"] = None
        out["errors"]["baggage"] = repr(exc)

    try:
        ctx = XRAY.extract(carrier, context=Context(), getter=GETTER)
        sc = span_view(ctx)
        if sc is None:
            out["xray"] = None
        else:
            out["xray"] = {
                "trace_id": f"{sc.trace_id:032x}",
                "span_id": f"{sc.span_id:016x}",
                "sampled": bool(int(sc.trace_flags) & 1),
            }
        injected = {}
        XRAY.inject(injected, context=ctx)
        out["xray_inject"] = injected.get("X-Amzn-Trace-Id")
    except Exception as exc:  # noqa: BLE001
        out["xray"] = None
        out["xray_inject"] = None
        out["errors"]["xray"] = repr(exc)

    return out


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            case = json.loads(line)
            result = run_case(case)
        except Exception as exc:  # noqa: BLE001 - keep answering one line per case
            result = {"id": None, "fatal": repr(exc)}
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
