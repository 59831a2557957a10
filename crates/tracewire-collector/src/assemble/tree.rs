//! Tree building (`docs/collector.md#tree-building`): completed spans of one trace → a
//! [`SpanNode`] tree, with a synthetic root when the spans do not form exactly one rooted
//! tree.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::sync::Arc;

use super::hash::IdHashBuilder;
use crate::model::{
    CompletedSpan, SpanId, SpanNode, Timestamp, WireKind, WireTraceId, SYNTHETIC_SPAN_ID,
};

/// Name of the synthetic root of a partial trace.
pub const SYNTHETIC_ROOT_NAME: &str = "(partial trace)";

fn order_key(s: &CompletedSpan) -> (Timestamp, Timestamp, SpanId) {
    (s.start, s.end, s.span_id)
}

/// Builds the tree of `spans` (all of one trace) and says whether it is partial.
///
/// Each span becomes a node attached to its parent when the parent is among `spans`;
/// siblings are sorted by (start, end, span id). A parent cycle (only possible with
/// corrupt input) is cut at the first node found on it, so no span is ever left out.
/// Iterative throughout: a chain of any depth cannot overflow the stack.
///
/// `spans` may be plain `CompletedSpan`s (each is copied into its node) or shared
/// `Arc<CompletedSpan>`s (each node shares the span; no copy, as the assembler does).
pub fn build_tree<S>(trace_id: WireTraceId, spans: &[S]) -> (SpanNode, bool)
where
    S: Borrow<CompletedSpan> + Clone + Into<Arc<CompletedSpan>>,
{
    let n = spans.len();
    let span = |i: usize| -> &CompletedSpan { spans[i].borrow() };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| order_key(span(i)));

    let mut by_id: HashMap<SpanId, usize, IdHashBuilder> =
        HashMap::with_capacity_and_hasher(n, IdHashBuilder::new());
    for &i in &order {
        by_id.entry(span(i).span_id).or_insert(i);
    }
    let mut parent: Vec<Option<usize>> = (0..n)
        .map(|i| {
            span(i)
                .parent_id
                .and_then(|p| by_id.get(&p).copied())
                .filter(|&p| p != i)
        })
        .collect();
    break_cycles(&order, &mut parent);

    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut tops: Vec<usize> = Vec::new();
    for &i in &order {
        match parent[i] {
            Some(p) => children[p].push(i),
            None => tops.push(i),
        }
    }

    let complete = tops.len() == 1 && span(tops[0]).parent_id.is_none();
    let mut built: Vec<Option<SpanNode>> = (0..n).map(|_| None).collect();
    for &top in &tops {
        build_subtree(top, spans, &children, &mut built);
    }
    let mut top_nodes: Vec<SpanNode> = tops.iter().filter_map(|&i| built[i].take()).collect();
    if complete {
        if let Some(root) = top_nodes.pop() {
            return (root, false);
        }
    }
    let start = top_nodes
        .iter()
        .map(|t| t.span.start)
        .min()
        .unwrap_or_default();
    let end = top_nodes
        .iter()
        .map(|t| t.span.end)
        .max()
        .unwrap_or_default()
        .max(start);
    let root = SpanNode {
        span: Arc::new(CompletedSpan::new(
            trace_id,
            SYNTHETIC_SPAN_ID,
            SYNTHETIC_ROOT_NAME,
            WireKind::Internal,
            start,
            end,
        )),
        children: top_nodes,
    };
    (root, true)
}

/// Cuts one edge of every parent cycle (at the node where the walk meets itself).
fn break_cycles(order: &[usize], parent: &mut [Option<usize>]) {
    const NEW: u8 = 0;
    const ON_PATH: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; parent.len()];
    let mut path = Vec::new();
    for &start in order {
        let mut cur = start;
        loop {
            match state[cur] {
                DONE => break,
                ON_PATH => {
                    // `cur` closes a cycle: make it top-level.
                    parent[cur] = None;
                    break;
                }
                _ => {
                    state[cur] = ON_PATH;
                    path.push(cur);
                    match parent[cur] {
                        Some(p) => cur = p,
                        None => break,
                    }
                }
            }
        }
        for i in path.drain(..) {
            state[i] = DONE;
        }
    }
}

/// Post-order construction of the subtree at `top` into `built[top]`.
fn build_subtree<S: Clone + Into<Arc<CompletedSpan>>>(
    top: usize,
    spans: &[S],
    children: &[Vec<usize>],
    built: &mut [Option<SpanNode>],
) {
    let mut stack = vec![(top, false)];
    while let Some((i, expanded)) = stack.pop() {
        if expanded {
            let kids = children[i]
                .iter()
                .filter_map(|&c| built[c].take())
                .collect();
            built[i] = Some(SpanNode {
                span: spans[i].clone().into(),
                children: kids,
            });
        } else {
            stack.push((i, true));
            for &c in children[i].iter().rev() {
                stack.push((c, false));
            }
        }
    }
}
