//! `tracewire session export FILE`: convert a recording and send its spans over OTLP/HTTP
//! with the batching exporter, then report exactly what happened.
//!
//! Settings: a flag beats the `OTEL_*` variables (the operator chose it for this run),
//! which beat the defaults; every ignored or invalid variable is printed as a warning.
//! With `OTEL_SDK_DISABLED=true` nothing is sent and the report says so.
//!
//! Exit codes: 0 every span sent (or nothing sent because `OTEL_SDK_DISABLED` is true); 1
//! any span dropped, failed, rejected or pending, or shutdown returned an error; 2 usage,
//! configuration or input error.

use std::collections::BTreeMap;
use std::io::{self, IsTerminal};
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tracewire_context::TraceContext;
use tracewire_otlp::batch::{BatchExporter, FlushReport, Overflow, ShutdownError};
use tracewire_otlp::config::{OtlpConfig, Precedence};
use tracewire_otlp::export::{Compression, OtlpHttpExporter, Protocol};

use crate::session::InputArgs;

/// Inputs larger than this get a progress bar on a terminal.
const PROGRESS_MIN_BYTES: u64 = 1 << 20;

/// Arguments of `tracewire session export`.
#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Full traces URL, over OTEL_EXPORTER_OTLP_*ENDPOINT (default
    /// http://localhost:4318/v1/traces).
    #[arg(long)]
    endpoint: Option<String>,
    /// http/protobuf or http/json.
    #[arg(long, value_parser = parse_protocol)]
    protocol: Option<Protocol>,
    /// Extra request header `k=v` (repeatable).
    #[arg(long = "header", value_parser = parse_header)]
    headers: Vec<(String, String)>,
    /// Place every session under this W3C traceparent.
    #[arg(long)]
    parent: Option<String>,
    /// W3C tracestate to carry with --parent.
    #[arg(long)]
    tracestate: Option<String>,
    /// gzip request bodies.
    #[arg(long)]
    gzip: bool,
    /// Per-attempt HTTP timeout, e.g. 10s or 500ms.
    #[arg(long, value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Time allowed for the final drain, e.g. 60s.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    deadline: Duration,
    /// Always show a progress bar on stderr.
    #[arg(long, conflicts_with = "no_progress")]
    progress: bool,
    /// Never show a progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Print the final report as one JSON object.
    #[arg(long)]
    report_json: bool,
}

fn parse_protocol(s: &str) -> Result<Protocol, String> {
    match Protocol::parse(s) {
        Some(p @ (Protocol::HttpProtobuf | Protocol::HttpJson)) => Ok(p),
        _ => Err("expected http/protobuf or http/json".into()),
    }
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => Err("expected k=v".into()),
    }
}

/// Parses `10s`, `500ms`, `2m`, `1h`.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (use e.g. 10s or 500ms)"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        "h" => Ok(Duration::from_secs(n.saturating_mul(3600))),
        _ => Err(format!("invalid duration {s:?} (use e.g. 10s or 500ms)")),
    }
}

fn usage_error(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("tracewire: {msg}");
    ExitCode::from(2)
}

/// The final counts printed on stdout.
#[derive(Debug, Default, serde::Serialize)]
struct FinalReport {
    sent: u64,
    dropped: u64,
    failed: u64,
    pending: u64,
    rejected: u64,
    skipped_events: u64,
    malformed_lines: u64,
    /// Spans not sent because OTEL_SDK_DISABLED is true.
    disabled: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Runs the subcommand.
pub(crate) fn run(args: ExportArgs) -> ExitCode {
    // 1. The parent context: an explicit parent never falls back.
    let parent = match parent_context(&args) {
        Ok(p) => p,
        Err(msg) => return usage_error(msg),
    };

    // 2. The configuration (flags beat OTEL_* variables, which beat defaults).
    let mut config = OtlpConfig::new().with_precedence(Precedence::CodeFirst);
    if let Some(e) = &args.endpoint {
        config = config.with_endpoint(e.clone());
    }
    if let Some(p) = args.protocol {
        config = config.with_protocol(p);
    }
    if args.gzip {
        config = config.with_compression(Compression::Gzip);
    }
    if let Some(t) = args.timeout {
        config = config.with_timeout(t);
    }
    for (k, v) in &args.headers {
        config = config.with_header(k.clone(), v.clone());
    }
    let resolved = match config.resolve() {
        Ok(r) => r,
        Err(e) => return usage_error(e),
    };
    for w in &resolved.warnings {
        eprintln!("tracewire: warning: {w}");
    }
    if !resolved.protocol.is_http() {
        return usage_error(format_args!(
            "OTLP protocol {} is not supported by session export (it speaks http/protobuf and http/json)",
            resolved.protocol
        ));
    }
    let batch_settings = resolved.batch;
    let disabled = resolved.sdk_disabled;
    // The same instrumentation scope as `session show --format otlp-json`.
    let builder = OtlpHttpExporter::builder()
        .with_resolved(resolved)
        .with_scope(tracewire_session::identity::scope());

    // 3. Read the input (phase 1 of the progress display).
    let size = (args.input.file != "-")
        .then(|| std::fs::metadata(&args.input.file).ok().map(|m| m.len()))
        .flatten();
    let show_progress = !args.no_progress
        && (args.progress
            || (io::stderr().is_terminal() && size.is_some_and(|s| s > PROGRESS_MIN_BYTES)));
    let read_bar = show_progress.then(|| reading_bar(size));
    let loaded = match args.input.load() {
        Ok(l) => l,
        Err(msg) => return usage_error(msg),
    };
    if let Some(b) = read_bar {
        b.set_position(loaded.read.bytes);
        b.finish_and_clear();
    }
    let malformed = loaded.read.malformed;

    // 4. Convert each session.
    let converter = args.input.converter();
    let mut skipped_events = 0;
    let mut all_spans = Vec::new();
    for (id, events) in &loaded.sessions {
        let conv = match &parent {
            Some(cx) => converter.convert_session_with_parent(id, events, cx),
            None => converter.convert_session(id, events),
        };
        skipped_events += conv.stats.skipped();
        all_spans.push(conv.spans);
    }
    let total: u64 = all_spans.iter().map(|s| s.len() as u64).sum();
    if disabled {
        let report = FinalReport {
            skipped_events,
            malformed_lines: malformed,
            disabled: total,
            ..FinalReport::default()
        };
        print_report(&report, args.report_json);
        eprintln!(
            "tracewire: OTEL_SDK_DISABLED is true: nothing exported ({total} spans not sent)"
        );
        return ExitCode::SUCCESS;
    }

    // 5. Export and drain.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return usage_error(format_args!("cannot start the runtime: {e}")),
    };
    let result = runtime.block_on(async move {
        let exporter = builder.build().map_err(|e| e.to_string())?;
        let batch = BatchExporter::builder(exporter)
            .with_settings(batch_settings)
            .with_overflow(Overflow::Wait)
            .build()
            .map_err(|e| e.to_string())?;
        let bar = show_progress.then(|| spans_bar(total));
        let ticker = bar.clone().map(|bar| {
            let b = batch.clone();
            tokio::spawn(async move {
                loop {
                    let r = b.report();
                    bar.set_position(r.sent + r.dropped + r.failed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        });
        for spans in all_spans {
            // Refusal only happens after shutdown, which has not started; counted anyway.
            let _ = batch.submit_wait(spans).await;
        }
        let outcome = batch.shutdown(args.deadline).await;
        if let Some(t) = ticker {
            t.abort();
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        Ok::<_, String>(outcome)
    });
    let outcome = match result {
        Ok(o) => o,
        Err(msg) => return usage_error(msg),
    };

    // 6. Report.
    let (report, error) = match &outcome {
        Ok(r) => (*r, None),
        Err(e) => (
            e.report().copied().unwrap_or_default(),
            Some(shutdown_message(e)),
        ),
    };
    let final_report = FinalReport {
        sent: report.sent,
        dropped: report.dropped,
        failed: report.failed,
        pending: report.pending,
        rejected: report.rejected,
        skipped_events,
        malformed_lines: malformed,
        disabled: report.disabled,
        error: error.clone(),
    };
    print_report(&final_report, args.report_json);
    if let Some(msg) = &error {
        eprintln!("tracewire: {msg}");
    }
    if outcome.is_ok() && all_sent(&report) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn all_sent(r: &FlushReport) -> bool {
    r.dropped == 0 && r.failed == 0 && r.rejected == 0 && r.pending == 0 && r.sent == r.submitted
}

fn shutdown_message(e: &ShutdownError) -> String {
    e.to_string()
}

fn print_report(r: &FinalReport, json: bool) {
    if json {
        match serde_json::to_string(r) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("tracewire: cannot encode the report: {e}"),
        }
    } else {
        println!(
            "sent={} dropped={} failed={} pending={} rejected={} skipped_events={} malformed_lines={} disabled={}",
            r.sent, r.dropped, r.failed, r.pending, r.rejected, r.skipped_events, r.malformed_lines, r.disabled
        );
    }
}

fn parent_context(args: &ExportArgs) -> Result<Option<TraceContext>, String> {
    let Some(tp) = &args.parent else {
        if args.tracestate.is_some() {
            return Err("--tracestate needs --parent".into());
        }
        return Ok(None);
    };
    let mut carrier: BTreeMap<String, String> = BTreeMap::new();
    carrier.insert("traceparent".into(), tp.clone());
    if let Some(ts) = &args.tracestate {
        carrier.insert("tracestate".into(), ts.clone());
    }
    let cx = TraceContext::extract(&carrier);
    if let Some(r) = cx.rejections().first() {
        return Err(format!("invalid --{}: {}", flag_of(r.header), r.error));
    }
    if cx.traceparent.is_none() {
        return Err("invalid --parent".into());
    }
    Ok(Some(cx))
}

fn flag_of(header: &str) -> &str {
    match header {
        "traceparent" => "parent",
        other => other,
    }
}

fn reading_bar(size: Option<u64>) -> ProgressBar {
    let bar = match size {
        Some(s) => ProgressBar::new(s),
        None => ProgressBar::new_spinner(),
    };
    if let Ok(style) = ProgressStyle::with_template("reading {msg} {bytes}/{total_bytes} {spinner}")
    {
        bar.set_style(style);
    }
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

fn spans_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("exporting {pos}/{len} spans {wide_bar} {eta}")
    {
        bar.set_style(style);
    }
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("1.5s").is_err());
    }

    #[test]
    fn headers() {
        assert_eq!(parse_header("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_header("novalue").is_err());
    }
}
