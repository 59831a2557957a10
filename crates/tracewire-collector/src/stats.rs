//! Span statistics
//! ([docs/collector.md#statistics](https://github.com/tracewire/tracewire/blob/main/docs/collector.md#statistics)):
//! per (name, kind) count, errors and nearest-rank percentiles of durations, built from
//! flat spans so each span counts once whatever the revisions.
//!
//! ```
//! use tracewire_collector::stats::nearest_rank;
//!
//! let ms: Vec<u64> = (1..=20).collect();
//! assert_eq!(nearest_rank(&ms, 95), Some(19));
//! assert_eq!(nearest_rank(&[1, 2, 3, 4, 5], 50), Some(3));
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::model::{CompletedSpan, WireKind};
use crate::render::format_duration;

/// Nearest-rank percentile of an ascending slice: the element at 1-based index
/// `ceil(p/100 · N)` clamped to `[1, N]`. `None` for an empty slice.
pub fn nearest_rank(sorted: &[u64], p: u32) -> Option<u64> {
    let n = sorted.len() as u128;
    if n == 0 {
        return None;
    }
    let rank = (u128::from(p) * n).div_ceil(100).clamp(1, n);
    sorted.get((rank - 1) as usize).copied()
}

/// Row order of the table (`--sort`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SortKey {
    /// Total time, descending (default).
    #[default]
    Total,
    /// Span count, descending.
    Count,
    /// p95, descending.
    P95,
    /// p99, descending.
    P99,
    /// Maximum, descending.
    Max,
    /// Name, ascending.
    Name,
}

impl std::str::FromStr for SortKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "total" => SortKey::Total,
            "count" => SortKey::Count,
            "p95" => SortKey::P95,
            "p99" => SortKey::P99,
            "max" => SortKey::Max,
            "name" => SortKey::Name,
            other => {
                return Err(format!(
                    "unknown sort key {other:?}; use total, count, p95, p99, max or name"
                ))
            }
        })
    }
}

/// One group's figures; durations in nanoseconds (the `--json` form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StatsRow {
    /// Span name.
    pub name: String,
    /// Kind name (`unknown` for other kinds).
    pub kind: &'static str,
    /// Number of spans.
    pub count: u64,
    /// Error spans ([`CompletedSpan::is_error`](crate::model::CompletedSpan::is_error)).
    pub errors: u64,
    /// Sum of durations.
    pub total_ns: u64,
    /// Median.
    pub p50_ns: u64,
    /// 90th percentile.
    pub p90_ns: u64,
    /// 95th percentile.
    pub p95_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// Maximum.
    pub max_ns: u64,
}

#[derive(Debug, Default)]
struct Group {
    durations: Vec<u64>,
    errors: u64,
}

/// Accumulates spans and produces the statistics table.
#[derive(Debug, Default)]
pub struct SpanStats {
    groups: HashMap<(String, WireKind), Group>,
}

impl SpanStats {
    /// Empty statistics.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one span; synthetic roots are ignored.
    pub fn add(&mut self, span: &CompletedSpan) {
        if span.is_synthetic() {
            return;
        }
        let g = self
            .groups
            .entry((span.name.clone(), span.kind))
            .or_default();
        g.durations
            .push(u64::try_from(span.duration.as_nanos()).unwrap_or(u64::MAX));
        if span.is_error() {
            g.errors += 1;
        }
    }

    /// Number of spans added.
    pub fn span_count(&self) -> u64 {
        self.groups.values().map(|g| g.durations.len() as u64).sum()
    }

    /// One row per (name, kind), sorted by `sort`, ties by name then kind.
    pub fn rows(&self, sort: SortKey) -> Vec<StatsRow> {
        let mut rows: Vec<StatsRow> = self
            .groups
            .iter()
            .map(|((name, kind), g)| {
                let mut d = g.durations.clone();
                d.sort_unstable();
                let pct = |p| nearest_rank(&d, p).unwrap_or(0);
                StatsRow {
                    name: name.clone(),
                    kind: kind.name(),
                    count: d.len() as u64,
                    errors: g.errors,
                    total_ns: d.iter().fold(0u64, |a, &x| a.saturating_add(x)),
                    p50_ns: pct(50),
                    p90_ns: pct(90),
                    p95_ns: pct(95),
                    p99_ns: pct(99),
                    max_ns: d.last().copied().unwrap_or(0),
                }
            })
            .collect();
        rows.sort_by(|a, b| {
            let primary = match sort {
                SortKey::Total => b.total_ns.cmp(&a.total_ns),
                SortKey::Count => b.count.cmp(&a.count),
                SortKey::P95 => b.p95_ns.cmp(&a.p95_ns),
                SortKey::P99 => b.p99_ns.cmp(&a.p99_ns),
                SortKey::Max => b.max_ns.cmp(&a.max_ns),
                SortKey::Name => std::cmp::Ordering::Equal,
            };
            primary
                .then_with(|| a.name.cmp(&b.name))
                .then_with(|| a.kind.cmp(b.kind))
        });
        rows
    }

    /// The rows as a JSON array (ns integers).
    pub fn to_json(&self, sort: SortKey) -> serde_json::Value {
        serde_json::to_value(self.rows(sort)).unwrap_or(serde_json::Value::Null)
    }

    /// The aligned text table: `NAME KIND COUNT ERR P50 P90 P95 P99 MAX`, two spaces between
    /// columns, text left-aligned and numbers right-aligned.
    pub fn render_table(&self, sort: SortKey) -> String {
        let header = [
            "NAME", "KIND", "COUNT", "ERR", "P50", "P90", "P95", "P99", "MAX",
        ];
        let fmt = |ns: u64| format_duration(Duration::from_nanos(ns));
        let cells: Vec<[String; 9]> = self
            .rows(sort)
            .into_iter()
            .map(|r| {
                [
                    r.name,
                    r.kind.to_owned(),
                    r.count.to_string(),
                    r.errors.to_string(),
                    fmt(r.p50_ns),
                    fmt(r.p90_ns),
                    fmt(r.p95_ns),
                    fmt(r.p99_ns),
                    fmt(r.max_ns),
                ]
            })
            .collect();
        let mut widths = header.map(|h| h.chars().count());
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        let mut line = |cols: &[&str]| {
            let mut l = String::new();
            for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
                let pad = w.saturating_sub(c.chars().count());
                if i > 0 {
                    l.push_str("  ");
                }
                if i < 2 {
                    l.push_str(c);
                    if i + 1 < cols.len() {
                        l.extend(std::iter::repeat_n(' ', pad));
                    }
                } else {
                    l.extend(std::iter::repeat_n(' ', pad));
                    l.push_str(c);
                }
            }
            let _ = writeln!(out, "{}", l.trim_end());
        };
        line(&header);
        for row in &cells {
            let cols: Vec<&str> = row.iter().map(String::as_str).collect();
            line(&cols);
        }
        out
    }
}
