//! `tracewire session`: inspect and export recorded agent sessions.
//!
//! One enum variant and one function per subcommand; the options every subcommand
//! shares ([`InputArgs`]) and the loading/conversion they all need live here once.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;
use std::process::ExitCode;

use tracewire_otlp::proto::{encode_json, to_request};
use tracewire_otlp::resource::Resource;
use tracewire_otlp::span::{Span, StatusCode};
use tracewire_session::convert::{ConvertOptions, ConvertStats, Converter, Naming};
use tracewire_session::event::{group_by_session, SessionEvent};
use tracewire_session::read::{read_jsonl, ReadOptions, ReadStats};

/// Subcommands of `tracewire session`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum SessionCommand {
    /// Print each session of a recording as a span tree.
    Show(ShowArgs),
    /// Convert a recording and export its spans over OTLP/HTTP.
    Export(crate::session_export::ExportArgs),
}

/// Runs a `session` subcommand and returns the process exit code.
pub(crate) fn run(command: SessionCommand) -> ExitCode {
    match command {
        SessionCommand::Show(args) => show(&args),
        SessionCommand::Export(args) => crate::session_export::run(args),
    }
}

/// Options shared by every `session` subcommand.
#[derive(Debug, clap::Args)]
pub(crate) struct InputArgs {
    /// Recording to read (PromptKit or native JSON Lines); `-` reads stdin.
    #[arg(value_name = "FILE")]
    pub(crate) file: String,
    /// Handle only this session (default: every session, in id order).
    #[arg(long, value_name = "ID")]
    pub(crate) session: Option<String>,
    /// Attribute naming convention.
    #[arg(long, value_enum, default_value_t = NamingArg::Promptkit)]
    pub(crate) naming: NamingArg,
    /// Include message text and tool arguments (off by default: they may hold secrets).
    #[arg(long)]
    pub(crate) capture_content: bool,
    /// Fail (exit 2) on the first malformed line instead of skipping it.
    #[arg(long)]
    pub(crate) strict: bool,
}

/// `--naming` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum NamingArg {
    /// PromptKit's attribute keys.
    Promptkit,
    /// OpenTelemetry GenAI semantic conventions.
    Genai,
    /// Both sets of keys.
    Both,
}

impl InputArgs {
    /// The converter these options ask for.
    pub(crate) fn converter(&self) -> Converter {
        let naming = match self.naming {
            NamingArg::Promptkit => Naming::PromptKit,
            NamingArg::Genai => Naming::GenAi,
            NamingArg::Both => Naming::Both,
        };
        Converter::new(
            ConvertOptions::default()
                .with_naming(naming)
                .with_capture_content(self.capture_content),
        )
    }

    /// The session id for events without one: `--session`, else the file stem.
    fn default_session(&self) -> String {
        if let Some(id) = &self.session {
            return id.clone();
        }
        if self.file == "-" {
            return "stdin".to_owned();
        }
        Path::new(&self.file)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Reads the input and groups it into the sessions to handle.
    pub(crate) fn load(&self) -> Result<Loaded, String> {
        let input: Box<dyn BufRead> = if self.file == "-" {
            Box::new(BufReader::new(io::stdin()))
        } else {
            let file = File::open(&self.file).map_err(|e| format!("{}: {e}", self.file))?;
            Box::new(BufReader::with_capacity(1 << 16, file))
        };
        let options = ReadOptions::default().with_strict(self.strict);
        let mut reader = read_jsonl(input, options);
        let mut events = Vec::new();
        for item in reader.by_ref() {
            events.push(item.map_err(|e| format!("{}: {e}", self.file))?);
        }
        let read = reader.into_stats();
        let fallback = self.default_session();
        let events = events.into_iter().map(|mut e: SessionEvent| {
            if e.session().is_empty() {
                e.session_id = Some(fallback.clone());
            }
            e
        });
        let mut sessions = group_by_session(events);
        if let Some(id) = &self.session {
            sessions.retain(|k, _| k == id);
            if sessions.is_empty() {
                return Err(format!("{}: no events for session {id:?}", self.file));
            }
        }
        Ok(Loaded { sessions, read })
    }
}

/// A recording read and grouped by session.
#[derive(Debug)]
pub(crate) struct Loaded {
    /// Events per session id, in id order.
    pub(crate) sessions: BTreeMap<String, Vec<SessionEvent>>,
    /// What the reader saw.
    pub(crate) read: ReadStats,
}

/// `tracewire session show`.
#[derive(Debug, clap::Args)]
pub(crate) struct ShowArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    /// Print every attribute under its span.
    #[arg(long)]
    pub(crate) attrs: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ShowFormat::Tree)]
    pub(crate) format: ShowFormat,
}

/// `show --format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ShowFormat {
    /// Indented span trees with a summary footer.
    Tree,
    /// The OTLP/JSON export request.
    OtlpJson,
}

fn show(args: &ShowArgs) -> ExitCode {
    let loaded = match args.input.load() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("tracewire: {e}");
            return ExitCode::from(2);
        }
    };
    let converter = args.input.converter();
    let mut stats = ConvertStats::default();
    let mut text = String::new();
    let mut all_spans = Vec::new();
    for (id, events) in &loaded.sessions {
        let out = converter.convert_session(id, events);
        stats.merge(&out.stats);
        match args.format {
            ShowFormat::Tree => render_tree(&mut text, &out.spans, args.attrs),
            ShowFormat::OtlpJson => all_spans.extend(out.spans),
        }
    }
    let footer = render_footer(&loaded.read, &stats, loaded.sessions.len());
    let written = match args.format {
        ShowFormat::Tree => {
            text.push_str(&footer);
            io::stdout().write_all(text.as_bytes())
        }
        ShowFormat::OtlpJson => {
            let request = to_request(
                &all_spans,
                &Resource::from_env(),
                &tracewire_session::identity::scope(),
            );
            match encode_json(&request) {
                Ok(mut json) => {
                    json.push(b'\n');
                    eprint!("{footer}");
                    io::stdout().write_all(&json)
                }
                Err(e) => {
                    eprintln!("tracewire: encoding OTLP/JSON failed: {e}");
                    return ExitCode::from(1);
                }
            }
        }
    };
    match written.and_then(|()| io::stdout().flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tracewire: writing output failed: {e}");
            ExitCode::from(1)
        }
    }
}

/// Appends one session's spans as an indented tree (children by start time).
fn render_tree(out: &mut String, spans: &[Span], attrs: bool) {
    let mut children: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut roots = Vec::new();
    for (i, span) in spans.iter().enumerate() {
        let parent = span
            .parent_span_id
            .and_then(|p| spans.iter().position(|s| s.span_id == p));
        match parent {
            Some(p) if p != i => children.entry(p).or_default().push(i),
            _ => roots.push(i),
        }
    }
    for list in children.values_mut() {
        list.sort_by_key(|&i| spans[i].start_time_unix_nano);
    }
    let mut first = true;
    // Depth-first with an explicit stack (no recursion limit on deep inputs).
    let mut stack: Vec<(usize, usize)> = roots.iter().rev().map(|&i| (i, 0)).collect();
    while let Some((i, depth)) = stack.pop() {
        render_line(out, &spans[i], depth, first, attrs);
        first = false;
        if let Some(kids) = children.get(&i) {
            stack.extend(kids.iter().rev().map(|&k| (k, depth + 1)));
        }
    }
}

fn render_line(out: &mut String, span: &Span, depth: usize, first: bool, attrs: bool) {
    let indent = "  ".repeat(depth);
    let seconds = span
        .end_time_unix_nano
        .saturating_sub(span.start_time_unix_nano) as f64
        / 1e9;
    let status = match span.status.code {
        StatusCode::Ok => "OK",
        StatusCode::Error => "ERROR",
        _ => "UNSET",
    };
    let _ = write!(
        out,
        "{indent}{} {} {seconds:.3} {status}",
        span.name, span.span_id
    );
    if !span.status.message.is_empty() {
        let _ = write!(out, " {:?}", span.status.message);
    }
    if !span.events.is_empty() {
        let _ = write!(out, " ({} events)", span.events.len());
    }
    if first {
        let _ = write!(out, " [trace {}]", span.trace_id);
    }
    out.push('\n');
    if attrs {
        for kv in span.attributes.iter() {
            let _ = writeln!(out, "{indent}    {}={}", kv.key, kv.value);
        }
    }
}

fn render_footer(read: &ReadStats, stats: &ConvertStats, sessions: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "events read: {} ({sessions} session(s))", read.events);
    let skipped: Vec<String> = stats
        .skipped_by_type
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let _ = writeln!(
        out,
        "skipped events: {}{}",
        stats.skipped(),
        if skipped.is_empty() {
            String::new()
        } else {
            format!(" ({})", skipped.join(", "))
        }
    );
    let _ = write!(out, "malformed lines: {}", read.malformed);
    if !read.first_malformed.is_empty() {
        let lines: Vec<String> = read
            .first_malformed
            .iter()
            .map(|m| format!("line {}: {}", m.line, m.reason))
            .collect();
        let _ = write!(out, " ({})", lines.join("; "));
    }
    out.push('\n');
    let _ = writeln!(out, "incomplete spans: {}", stats.incomplete);
    let _ = writeln!(out, "orphans: {}", stats.orphans);
    out
}
