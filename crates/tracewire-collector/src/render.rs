//! Terminal rendering of assembled trees in go-trace's format
//! ([docs/collector.md#rendering](https://github.com/tracewire/tracewire/blob/main/docs/collector.md#rendering)),
//! plus our extensions (error markers, revisions, partial traces) and [`format_duration`].
//!
//! ```
//! use std::time::Duration;
//! use tracewire_collector::render::format_duration;
//!
//! assert_eq!(format_duration(Duration::from_micros(100)), "100µs");
//! assert_eq!(format_duration(Duration::from_nanos(999_960)), "1.0ms");
//! assert_eq!(format_duration(Duration::from_millis(2500)), "2.50s");
//! ```

use std::fmt::Write as _;
use std::time::Duration;

use crate::model::{SpanNode, Trace, WireKind};

/// How to render: only colour for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RenderOptions {
    /// Use ANSI colours (http cyan, sql yellow, function magenta, errors red).
    pub color: bool,
}

impl RenderOptions {
    /// Plain text, no colours.
    pub fn plain() -> Self {
        RenderOptions { color: false }
    }

    /// Colours on when the output is a terminal and `NO_COLOR` is unset (or empty).
    pub fn for_terminal(is_terminal: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        RenderOptions {
            color: is_terminal && !no_color,
        }
    }
}

const RESET: &str = "\x1b[0m";
const RED: &str = "\x1b[31m";

fn kind_color(kind: WireKind) -> Option<&'static str> {
    match kind {
        WireKind::Http => Some("\x1b[36m"),
        WireKind::Sql => Some("\x1b[33m"),
        WireKind::Function => Some("\x1b[35m"),
        _ => None,
    }
}

/// Longest error message shown after `[error: `, in characters.
const MAX_ERROR_CHARS: usize = 60;

/// Renders one trace: one line per span (`Name [kind] duration`), children prefixed with
/// `├── ` / `└── ` and `│   ` / `    ` continuation, then a blank line.
pub fn render_tree(trace: &Trace, opts: &RenderOptions) -> String {
    let mut out = String::new();
    // (node, prefix for its children, is the node the root)
    let mut stack: Vec<(&SpanNode, String, Option<bool>)> =
        vec![(&trace.root, String::new(), None)];
    while let Some((node, prefix, last)) = stack.pop() {
        let child_prefix = match last {
            None => {
                write_line(&mut out, trace, node, opts, true);
                String::new()
            }
            Some(is_last) => {
                out.push_str(&prefix);
                out.push_str(if is_last { "└── " } else { "├── " });
                write_line(&mut out, trace, node, opts, false);
                format!("{prefix}{}", if is_last { "    " } else { "│   " })
            }
        };
        let n = node.children.len();
        for (i, child) in node.children.iter().enumerate().rev() {
            stack.push((child, child_prefix.clone(), Some(i + 1 == n)));
        }
    }
    out.push('\n');
    out
}

/// Renders several traces one after the other (each followed by its blank line).
pub fn render_trees<'a>(
    traces: impl IntoIterator<Item = &'a Trace>,
    opts: &RenderOptions,
) -> String {
    traces.into_iter().map(|t| render_tree(t, opts)).collect()
}

fn write_line(
    out: &mut String,
    trace: &Trace,
    node: &SpanNode,
    opts: &RenderOptions,
    is_root: bool,
) {
    let span = &node.span;
    let duration = format_duration(span.duration);
    if node.is_synthetic() {
        let _ = write!(
            out,
            "(partial trace {}) [partial] {duration}",
            trace.trace_id
        );
    } else {
        out.push_str(&span.name);
        out.push(' ');
        match kind_color(span.kind).filter(|_| opts.color) {
            Some(c) => {
                let _ = write!(out, "{c}[{}]{RESET}", span.kind.name());
            }
            None => {
                let _ = write!(out, "[{}]", span.kind.name());
            }
        }
        out.push(' ');
        out.push_str(&duration);
        if span.is_error() {
            let marker = match span.error_message() {
                Some(m) => format!(" [error: {}]", truncate_chars(m, MAX_ERROR_CHARS)),
                None => " [error]".to_owned(),
            };
            if opts.color {
                let _ = write!(out, "{RED}{marker}{RESET}");
            } else {
                out.push_str(&marker);
            }
        }
    }
    if is_root && trace.revision >= 2 {
        let _ = write!(out, " (rev {})", trace.revision);
    }
    out.push('\n');
}

/// At most `max` characters; a cut message ends with `…` (counted in the limit).
fn truncate_chars(s: &str, max: usize) -> String {
    let mut chars = s.chars();
    let mut out: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        out.pop();
        out.push('…');
    }
    // Keep the line a single line.
    out.replace(['\n', '\r'], " ")
}

/// Integer division rounding half up.
fn div_round(n: u128, d: u128) -> u128 {
    (n + d / 2) / d
}

/// go-trace's duration format with integer maths, rounding half up and choosing the unit
/// after rounding: `{n}ns` under 1 µs, `{n}µs` under 1000 µs, `{n.d}ms` under 1000.0 ms,
/// else `{n.dd}s`.
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    let us = div_round(ns, 1_000);
    if us < 1_000 {
        return format!("{us}µs");
    }
    let tenth_ms = div_round(ns, 100_000);
    if tenth_ms < 10_000 {
        return format!("{}.{}ms", tenth_ms / 10, tenth_ms % 10);
    }
    let hundredth_s = div_round(ns, 10_000_000);
    format!("{}.{:02}s", hundredth_s / 100, hundredth_s % 100)
}
