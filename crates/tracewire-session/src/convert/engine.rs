//! The conversion state machine: sorting, pairing, hierarchy and finishing
//! (`docs/sessions.md#ordering-and-pairing` through `docs/sessions.md#root-span`).

use std::collections::{HashMap, VecDeque};

use super::attrs::{self, Content, Sink};
use super::fields::Fields;
use super::ids::IdAllocator;
use super::parent::Placement;
use super::{Conversion, ConvertOptions, ConvertStats, Orphans, RootStatus};
use crate::event::SessionEvent;
use tracewire_otlp::span::{HAS_IS_REMOTE, IS_REMOTE};
use tracewire_otlp::{Span, SpanEvent, SpanKind, Status};

/// Span families that have a start and an end event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Family {
    Pipeline,
    Provider,
    Tool,
    Middleware,
    Validation,
    Composition,
    Step,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Completed,
    Failed,
}

/// What an event type does to the span tree.
#[derive(Debug, Clone, Copy)]
enum Role {
    Start(Family),
    Finish(Family, End),
    Message,
    Transition,
    WorkflowCompleted,
    Eval,
    Skip,
}

fn role(event_type: &str) -> Role {
    use Family::*;
    match event_type {
        "pipeline.started" => Role::Start(Pipeline),
        "pipeline.completed" => Role::Finish(Pipeline, End::Completed),
        "pipeline.failed" => Role::Finish(Pipeline, End::Failed),
        "provider.call.started" => Role::Start(Provider),
        "provider.call.completed" => Role::Finish(Provider, End::Completed),
        "provider.call.failed" => Role::Finish(Provider, End::Failed),
        "tool.call.started" => Role::Start(Tool),
        "tool.call.completed" => Role::Finish(Tool, End::Completed),
        "tool.call.failed" => Role::Finish(Tool, End::Failed),
        "middleware.started" => Role::Start(Middleware),
        "middleware.completed" => Role::Finish(Middleware, End::Completed),
        "middleware.failed" => Role::Finish(Middleware, End::Failed),
        "validation.started" => Role::Start(Validation),
        "validation.passed" => Role::Finish(Validation, End::Completed),
        "validation.failed" => Role::Finish(Validation, End::Failed),
        "composition.started" => Role::Start(Composition),
        "composition.completed" => Role::Finish(Composition, End::Completed),
        "composition.step.started" => Role::Start(Step),
        "composition.step.completed" => Role::Finish(Step, End::Completed),
        "message.created" => Role::Message,
        "workflow.transitioned" => Role::Transition,
        "workflow.completed" => Role::WorkflowCompleted,
        "eval.completed" | "eval.failed" => Role::Eval,
        _ => Role::Skip,
    }
}

/// The payload field naming a span within its run (the pairing key), if any.
fn pair_field(family: Family) -> Option<&'static str> {
    match family {
        Family::Pipeline | Family::Provider => None,
        Family::Tool => Some("CallID"),
        Family::Middleware => Some("Name"),
        Family::Validation => Some("ValidatorName"),
        Family::Composition => Some("composition"),
        Family::Step => Some("step_id"),
    }
}

type PairKey = (Family, String, String);

/// A completion waiting for its start (an early completion, or finally an orphan).
struct Pending {
    event: usize,
    time: u64,
    key: PairKey,
    /// Where an orphan would hang: the latest pipeline/composition at that point.
    parent: usize,
    consumed: bool,
}

struct Builder {
    span: Span,
    open: bool,
}

struct Engine<'a> {
    options: &'a ConvertOptions,
    events: &'a [SessionEvent],
    times: Vec<u64>,
    /// Each event's role, computed once.
    roles: Vec<Role>,
    placement: Placement,
    stats: ConvertStats,
    ids: IdAllocator,
    spans: Vec<Builder>,
    open: HashMap<PairKey, VecDeque<usize>>,
    early: HashMap<PairKey, VecDeque<usize>>,
    pending: Vec<Pending>,
    latest_pipeline: HashMap<&'a str, usize>,
    latest_composition: HashMap<&'a str, usize>,
    open_providers: HashMap<&'a str, Vec<usize>>,
}

pub(crate) fn run(
    options: &ConvertOptions,
    session_id: &str,
    events: &[SessionEvent],
    placement: Placement,
) -> Conversion {
    let mut stats = ConvertStats {
        events: events.len() as u64,
        ..ConvertStats::default()
    };
    if events.is_empty() {
        return Conversion {
            spans: Vec::new(),
            stats,
            parent: placement.outcome,
        };
    }
    let times = resolve_times(events, &mut stats);
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by_key(|&i| (times[i], sort_seq(&events[i], i)));
    let root_start = times.iter().copied().min().unwrap_or(0);
    let root_end = times.iter().copied().max().unwrap_or(0);

    let roles = events.iter().map(|e| role(&e.event_type)).collect();
    let mut engine = Engine {
        options,
        events,
        times,
        roles,
        placement,
        stats,
        ids: IdAllocator::default(),
        spans: Vec::new(),
        open: HashMap::new(),
        early: HashMap::new(),
        pending: Vec::new(),
        latest_pipeline: HashMap::new(),
        latest_composition: HashMap::new(),
        open_providers: HashMap::new(),
    };
    engine.root(session_id, root_start, root_end);
    for &i in &order {
        engine.event(i);
    }
    engine.finish(root_start, root_end)
}

/// Fills missing, zero and pre-1970 times from the nearest earlier line that has one,
/// else from the first line that has one.
fn resolve_times(events: &[SessionEvent], stats: &mut ConvertStats) -> Vec<u64> {
    let first = events
        .iter()
        .find_map(|e| e.timestamp.unix_nanos())
        .unwrap_or(0);
    let mut last = None;
    events
        .iter()
        .map(|e| match e.timestamp.unix_nanos() {
            Some(t) => {
                last = Some(t);
                t
            }
            None => {
                stats.timestamps_inferred += 1;
                last.unwrap_or(first)
            }
        })
        .collect()
}

/// The tie-breaker: outer `seq`, else inner `sequence`, else the line index.
fn sort_seq(event: &SessionEvent, index: usize) -> i128 {
    match (event.seq, event.sequence) {
        (Some(seq), _) => i128::from(seq),
        (None, Some(seq)) => i128::from(seq),
        (None, None) => index as i128,
    }
}

impl<'a> Engine<'a> {
    fn content(&self) -> Content<'a> {
        Content {
            capture: self.options.capture_content,
            redactor: self.options.redactor.as_deref(),
        }
    }

    fn sink<'s>(&self, span: &'s mut Span) -> Sink<'s> {
        Sink {
            attrs: &mut span.attributes,
            naming: self.options.naming,
        }
    }

    fn root(&mut self, session_id: &str, start: u64, end: u64) {
        let alloc = self.ids.allocate(&format!("{session_id}:root"));
        let mut span = Span::new(
            self.placement.trace_id,
            alloc.span_id,
            "session",
            SpanKind::Server,
            start,
            end,
        );
        attrs::session(&mut self.sink(&mut span), session_id);
        self.spans.push(Builder { span, open: false });
    }

    /// Creates a span under `parent`, with its disambiguated id.
    fn create(
        &mut self,
        key: &str,
        name: String,
        kind: SpanKind,
        parent: usize,
        start: u64,
    ) -> usize {
        let alloc = self.ids.allocate(key);
        let mut span = Span::new(
            self.placement.trace_id,
            alloc.span_id,
            name,
            kind,
            start,
            start,
        );
        span.parent_span_id = Some(self.spans[parent].span.span_id);
        if alloc.occurrence >= 2 {
            span.attributes
                .insert("tracewire.occurrence", i64::from(alloc.occurrence));
            self.stats.disambiguated += 1;
        }
        self.spans.push(Builder { span, open: false });
        self.spans.len() - 1
    }

    fn pipeline_of(&self, run: &str) -> usize {
        self.latest_pipeline.get(run).copied().unwrap_or(0)
    }

    fn parent_for(&self, family: Family, run: &str) -> usize {
        match family {
            Family::Pipeline | Family::Composition => 0,
            Family::Step => self.latest_composition.get(run).copied().unwrap_or(0),
            _ => self.pipeline_of(run),
        }
    }

    fn event(&mut self, i: usize) {
        let event = &self.events[i];
        match self.roles[i] {
            Role::Start(family) => self.start(i, family),
            Role::Finish(family, _) => self.finish_event(i, family),
            Role::Message => self.message(i),
            Role::Transition | Role::WorkflowCompleted | Role::Eval => self.instant(i),
            Role::Skip => {
                *self
                    .stats
                    .skipped_by_type
                    .entry(event.event_type.clone())
                    .or_insert(0) += 1;
            }
        }
    }

    fn start(&mut self, i: usize, family: Family) {
        let events = self.events;
        let run = events[i].run_key();
        let parent = self.parent_for(family, run);
        let (idx, key) = self.open_span(family, i, self.times[i], parent, true);
        match family {
            Family::Pipeline => {
                self.latest_pipeline.insert(run, idx);
            }
            Family::Composition => {
                self.latest_composition.insert(run, idx);
            }
            _ => {}
        }
        // An early completion waiting under this key closes the span at once.
        if let Some(p) = self.early.get_mut(&key).and_then(VecDeque::pop_front) {
            self.pending[p].consumed = true;
            let (event, time) = (self.pending[p].event, self.pending[p].time);
            self.close(idx, family, event, time);
            return;
        }
        self.spans[idx].open = true;
        self.open.entry(key).or_default().push_back(idx);
        if family == Family::Provider {
            self.open_providers.entry(run).or_default().push(idx);
        }
    }

    /// Creates the span of start event `e` (or of an orphan's completion) with its
    /// start-side attributes; `count_bad` is false when the payload was already counted.
    fn open_span(
        &mut self,
        family: Family,
        e: usize,
        time: u64,
        parent: usize,
        count_bad: bool,
    ) -> (usize, PairKey) {
        let events = self.events;
        let event = &events[e];
        let run = event.run_key();
        let mut f = Fields::new(event.data.as_ref());
        let pair_name = pair_field(family).map_or("", |field| f.string(field));
        let (key, name, kind, subject) = match family {
            Family::Pipeline => (
                format!("{run}:pipeline"),
                "pipeline".to_owned(),
                SpanKind::Internal,
                "",
            ),
            Family::Provider => {
                let provider = f.string("Provider");
                (
                    format!("{run}:provider:{provider}"),
                    format!("provider.{provider}"),
                    SpanKind::Client,
                    provider,
                )
            }
            Family::Tool => {
                let tool = f.string("ToolName");
                (
                    format!("{run}:tool:{pair_name}"),
                    format!("tool.{tool}"),
                    SpanKind::Internal,
                    tool,
                )
            }
            Family::Middleware => (
                format!("{run}:middleware:{pair_name}"),
                format!("middleware.{pair_name}"),
                SpanKind::Internal,
                pair_name,
            ),
            Family::Validation => (
                format!("{run}:validation:{pair_name}"),
                format!("validation.{pair_name}"),
                SpanKind::Internal,
                pair_name,
            ),
            Family::Composition => (
                format!("{run}:composition:{pair_name}"),
                format!("composition.{pair_name}"),
                SpanKind::Internal,
                pair_name,
            ),
            Family::Step => (
                format!("{run}:composition.step:{pair_name}"),
                format!("composition.step.{pair_name}"),
                SpanKind::Internal,
                pair_name,
            ),
        };
        let idx = self.create(&key, name, kind, parent, time);
        let content = self.content();
        let mut sink = self.sink_at(idx);
        match family {
            Family::Pipeline => attrs::pipeline_start(&mut sink, run),
            Family::Provider => attrs::provider_start(&mut sink, &mut f, subject),
            Family::Tool => attrs::tool_start(&mut sink, &mut f, subject, pair_name, content),
            Family::Middleware => attrs::middleware_start(&mut sink, &mut f, subject),
            Family::Validation => attrs::validation_start(&mut sink, &mut f, subject),
            Family::Composition => attrs::composition_start(&mut sink, subject, run),
            Family::Step => attrs::step_start(&mut sink, &mut f, subject),
        }
        if count_bad {
            self.stats.bad_fields += f.bad();
        }
        (idx, (family, run.to_owned(), pair_name.to_owned()))
    }

    fn sink_at(&mut self, idx: usize) -> Sink<'_> {
        Sink {
            attrs: &mut self.spans[idx].span.attributes,
            naming: self.options.naming,
        }
    }

    /// Applies a completion event `e` at `time` to span `idx`.
    fn close(&mut self, idx: usize, family: Family, e: usize, time: u64) {
        let event = &self.events[e];
        let failed = matches!(self.roles[e], Role::Finish(_, End::Failed));
        let mut f = Fields::new(event.data.as_ref());
        let naming = self.options.naming;
        let builder = &mut self.spans[idx];
        builder.open = false;
        let span = &mut builder.span;
        span.end_time_unix_nano = time.max(span.start_time_unix_nano);
        let mut sink = Sink {
            attrs: &mut span.attributes,
            naming,
        };
        span.status = match family {
            Family::Pipeline => attrs::pipeline_end(&mut sink, &mut f, failed),
            Family::Provider => attrs::provider_end(&mut sink, &mut f, failed),
            Family::Tool => attrs::tool_end(&mut sink, &mut f, failed),
            Family::Middleware => attrs::middleware_end(&mut sink, &mut f, failed),
            Family::Validation => attrs::validation_end(&mut sink, &mut f, failed),
            Family::Composition => attrs::composition_end(&mut sink, &mut f),
            Family::Step => attrs::step_end(&mut sink, &mut f),
        };
        self.stats.bad_fields += f.bad();
        if family == Family::Provider {
            for list in self.open_providers.values_mut() {
                list.retain(|&p| p != idx);
            }
        }
    }

    fn finish_event(&mut self, i: usize, family: Family) {
        let event = &self.events[i];
        let run = event.run_key();
        let mut f = Fields::new(event.data.as_ref());
        let pair_name = pair_field(family).map_or("", |field| f.string(field));
        self.stats.bad_fields += f.bad();
        let key: PairKey = (family, run.to_owned(), pair_name.to_owned());
        if let Some(idx) = self.open.get_mut(&key).and_then(VecDeque::pop_front) {
            self.close(idx, family, i, self.times[i]);
            return;
        }
        let parent = self.parent_for(family, run);
        self.early
            .entry(key.clone())
            .or_default()
            .push_back(self.pending.len());
        self.pending.push(Pending {
            event: i,
            time: self.times[i],
            key,
            parent,
            consumed: false,
        });
    }

    fn message(&mut self, i: usize) {
        let event = &self.events[i];
        let run = event.run_key();
        let target = self
            .open_providers
            .get(run)
            .and_then(|list| list.last().copied());
        let mut f = Fields::new(event.data.as_ref());
        let mut span_event = SpanEvent::new(String::new(), self.times[i]);
        let role = attrs::message(&mut span_event.attributes, &mut f, self.content());
        span_event.name = format!("gen_ai.{role}.message");
        self.stats.bad_fields += f.bad();
        let idx = match target {
            Some(idx) => idx,
            None => {
                self.stats.messages_on_root += 1;
                0
            }
        };
        self.spans[idx].span.events.push(span_event);
    }

    fn instant(&mut self, i: usize) {
        let event = &self.events[i];
        let run = event.run_key();
        let time = self.times[i];
        let mut f = Fields::new(event.data.as_ref());
        let mut scratch = Span::new(
            self.placement.trace_id,
            self.spans[0].span.span_id,
            String::new(),
            SpanKind::Internal,
            time,
            time,
        );
        let mut sink = self.sink(&mut scratch);
        let (key, name, status, parent) = match self.roles[i] {
            Role::Transition => {
                let (from, to) = attrs::transition(&mut sink, &mut f);
                (
                    format!("{run}:workflow:transition:{from}:{to}"),
                    "workflow.transition".to_owned(),
                    Status::unset(),
                    0,
                )
            }
            Role::WorkflowCompleted => {
                let state = attrs::workflow_completed(&mut sink, &mut f);
                (
                    format!("{run}:workflow:completed:{state}"),
                    "workflow.completed".to_owned(),
                    Status::ok(),
                    0,
                )
            }
            _ => {
                let (id, status) = attrs::eval(&mut sink, &mut f);
                (
                    format!("{run}:eval:{id}"),
                    format!("eval.{id}"),
                    status,
                    self.pipeline_of(run),
                )
            }
        };
        self.stats.bad_fields += f.bad();
        let idx = self.create(&key, name, SpanKind::Internal, parent, time);
        let span = &mut self.spans[idx].span;
        span.attributes.extend(scratch.attributes);
        span.status = status;
    }

    /// Unmatched starts, orphans, root status and trace placement.
    fn finish(mut self, root_start: u64, root_end: u64) -> Conversion {
        for builder in &mut self.spans[1..] {
            if builder.open {
                builder.open = false;
                let span = &mut builder.span;
                span.end_time_unix_nano = root_end.max(span.start_time_unix_nano);
                span.status = Status::error("incomplete");
                span.attributes.insert("tracewire.incomplete", true);
                self.stats.incomplete += 1;
            }
        }
        let leftovers: Vec<usize> = (0..self.pending.len())
            .filter(|&p| !self.pending[p].consumed)
            .collect();
        for p in leftovers {
            self.stats.orphans += 1;
            if self.options.orphans == Orphans::Emit {
                self.orphan(p, root_start);
            }
        }
        let failed = self.spans[1..]
            .iter()
            .filter(|b| b.span.status.is_error())
            .count();
        self.spans[0].span.status = match self.options.root_status {
            RootStatus::FromChildren if failed > 0 => {
                Status::error(format!("{failed} child span(s) failed"))
            }
            _ => Status::ok(),
        };
        let placement = self.placement;
        let flags = u32::from(placement.trace_flags) | HAS_IS_REMOTE;
        let mut spans: Vec<Span> = self.spans.into_iter().map(|b| b.span).collect();
        for span in &mut spans {
            span.flags = flags;
            span.trace_state.clone_from(&placement.trace_state);
        }
        if let (Some(parent), Some(root)) = (placement.remote_parent, spans.first_mut()) {
            root.parent_span_id = Some(parent);
            root.flags |= IS_REMOTE;
        }
        Conversion {
            spans,
            stats: self.stats,
            parent: placement.outcome,
        }
    }

    /// Emits a completion whose start never came.
    fn orphan(&mut self, p: usize, root_start: u64) {
        let (e, time, parent) = (
            self.pending[p].event,
            self.pending[p].time,
            self.pending[p].parent,
        );
        let family = self.pending[p].key.0;
        let events = self.events;
        let duration = Fields::new(events[e].data.as_ref())
            .int("Duration")
            .and_then(|d| u64::try_from(d).ok())
            .unwrap_or(0);
        let start = time.saturating_sub(duration).max(root_start).min(time);
        let (idx, _) = self.open_span(family, e, start, parent, false);
        self.close(idx, family, e, time);
        self.spans[idx]
            .span
            .attributes
            .insert("tracewire.orphan", true);
    }
}
