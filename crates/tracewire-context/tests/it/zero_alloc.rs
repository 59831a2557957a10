//! Parsing and formatting a `traceparent` allocate nothing on the heap
//! (`docs/benchmarks.md#context-performance-targets`).
//!
//! A counting global allocator (`stats_alloc`, so no `unsafe` here) wraps the system
//! allocator. The tests of this file take one lock while they measure, so no other test
//! thread allocates meanwhile; each measurement is still repeated and the minimum
//! taken, so stray allocations of the test harness cannot make a test fail, while an
//! allocation inside the measured code (which happens on every repetition) always does.
//!
//! Allocation counts are also a load-independent view of the propagation cost: the
//! second test compares ours with the OpenTelemetry SDK's propagator.

use std::alloc::System;
use std::fmt::Write as _;
use std::hint::black_box;

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tracewire_context::{SpanId, TraceFlags, TraceId, Traceparent};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Held by each test while it measures.
static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Smallest number of allocations `f` made over a few runs.
fn min_allocations(mut f: impl FnMut()) -> usize {
    (0..8)
        .map(|_| {
            let region = Region::new(GLOBAL);
            f();
            let stats = region.change();
            stats.allocations + stats.reallocations
        })
        .min()
        .unwrap_or(usize::MAX)
}

/// A fixed-size stack buffer implementing `fmt::Write`, to format without a heap.
struct StackBuf {
    bytes: [u8; 128],
    len: usize,
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl StackBuf {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("<invalid utf-8>")
    }
}

#[test]
fn traceparent_parse_and_format_do_not_allocate() {
    let _measuring = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    const VALID: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const FUTURE: &str =
        "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-07-what-the-future-holds";
    const INVALID: &str = "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01";

    // Sanity: the counter sees a real allocation, so a zero below means something.
    assert!(min_allocations(|| drop(black_box(String::from("x")))) >= 1);

    // Parsing: valid, future-version and invalid input.
    let mut parsed = None;
    assert_eq!(
        min_allocations(|| parsed = Some(Traceparent::parse(black_box(VALID)))),
        0,
        "parsing a valid traceparent allocated"
    );
    let parsed = parsed
        .and_then(Result::ok)
        .expect("valid traceparent parses");
    assert_eq!(
        min_allocations(|| drop(black_box(Traceparent::parse(black_box(FUTURE))))),
        0,
        "parsing a future-version traceparent allocated"
    );
    assert_eq!(
        min_allocations(|| drop(black_box(Traceparent::parse(black_box(INVALID))))),
        0,
        "rejecting an invalid traceparent allocated"
    );

    // Formatting into a stack buffer.
    let mut buf = StackBuf {
        bytes: [0; 128],
        len: 0,
    };
    assert_eq!(
        min_allocations(|| {
            buf.len = 0;
            let _ = write!(buf, "{}", black_box(&parsed));
        }),
        0,
        "formatting a traceparent into a stack buffer allocated"
    );
    assert_eq!(buf.as_str(), VALID);

    // Formatting into a pre-sized String.
    let mut string = String::with_capacity(64);
    assert_eq!(
        min_allocations(|| {
            string.clear();
            let _ = write!(string, "{}", black_box(&parsed));
        }),
        0,
        "formatting a traceparent into a pre-sized String allocated"
    );
    assert_eq!(string, VALID);

    // The ids and a child, formatted the same way.
    let child = parsed.child(SpanId::from_u64(0x00f0_67aa_0ba9_02b7));
    let trace_id = TraceId::from_u128(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736);
    assert_eq!(
        min_allocations(|| {
            buf.len = 0;
            let _ = write!(
                buf,
                "{} {} {}",
                black_box(&child),
                trace_id,
                child.parent_id
            );
        }),
        0,
        "formatting a child traceparent and ids allocated"
    );
    assert_eq!(
        buf.as_str(),
        "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01 \
         4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7"
    );

    // Flags outside the propagated bits are dropped on output, still without allocating.
    let odd = Traceparent::new(
        parsed.trace_id,
        parsed.parent_id,
        TraceFlags::from_bits(0xff),
    );
    assert_eq!(
        min_allocations(|| {
            buf.len = 0;
            let _ = write!(buf, "{}", black_box(&odd));
        }),
        0
    );
    assert!(buf.as_str().ends_with("-03"), "got {}", buf.as_str());
}

/// The workload of `docs/benchmarks.md#context-performance-targets` (traceparent + 2-member tracestate through `http::HeaderMap`):
/// extract allocates nothing, inject only its two header values, and both fewer than
/// `opentelemetry_sdk`'s `TraceContextPropagator`.
#[cfg(all(feature = "http", feature = "otel"))]
#[test]
fn extract_allocates_nothing_and_inject_only_its_header_values() {
    use http::{HeaderMap, HeaderValue};
    use opentelemetry::propagation::TextMapPropagator as _;
    use opentelemetry_http::{HeaderExtractor, HeaderInjector};
    use tracewire_context::TraceContext;

    let _measuring = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let mut headers = HeaderMap::new();
    headers.insert(
        "traceparent",
        HeaderValue::from_static("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    );
    headers.insert(
        "tracestate",
        HeaderValue::from_static("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
    );
    let sdk = opentelemetry_sdk::propagation::TraceContextPropagator::new();
    let mut out = HeaderMap::with_capacity(8);

    let ours_extract = min_allocations(|| drop(black_box(TraceContext::extract(&headers))));
    let theirs_extract =
        min_allocations(|| drop(black_box(sdk.extract(&HeaderExtractor(&headers)))));
    let context = TraceContext::extract(&headers);
    let cx = sdk.extract(&HeaderExtractor(&headers));
    let ours_inject = min_allocations(|| {
        out.clear();
        context.inject(&mut out);
    });
    let theirs_inject = min_allocations(|| {
        out.clear();
        sdk.inject_context(&cx, &mut HeaderInjector(&mut out));
    });
    println!(
        "allocations per operation: extract ours {ours_extract} / sdk {theirs_extract}, \
         inject ours {ours_inject} / sdk {theirs_inject}"
    );
    // A 2-member tracestate is kept inline, so extract does not touch the heap; inject
    // allocates only the two `HeaderValue`s that `http` copies every value into.
    assert_eq!(ours_extract, 0, "extract allocates");
    assert_eq!(
        ours_inject, 2,
        "inject allocates beyond its two header values"
    );
    assert!(
        ours_extract + ours_inject < theirs_extract + theirs_inject,
        "ours {} vs sdk {}",
        ours_extract + ours_inject,
        theirs_extract + theirs_inject
    );
}
