//! A sans-IO line splitter for newline-delimited protocols such as the collector's ingest
//! and view lines
//! ([docs/wire-formats.md#collector-ingest-lines](https://github.com/tracewire/tracewire/blob/main/docs/wire-formats.md#collector-ingest-lines)).
//!
//! Feed it the byte chunks a socket returns, in order, and it reports each line exactly
//! once: `\n` and `\r\n` terminators are removed, blank lines are reported as
//! [`LineEvent::Blank`], a final line ended by EOF is reported by [`LineSplitter::finish`],
//! and a line longer than the limit is reported as [`LineEvent::Oversize`] and discarded up to
//! its `\n` **without being buffered** (memory stays at most `max_line_bytes + 1`).
//!
//! ```
//! use tracewire_collector::lines::{LineEvent, LineSplitter};
//!
//! let mut splitter = LineSplitter::new(8);
//! let mut seen = Vec::new();
//! let mut on_line = |ev: LineEvent<'_>| seen.push(format!("{ev:?}"));
//! splitter.push(b"one\r\n\ntoo long a line\ntw", &mut on_line);
//! splitter.push(b"o", &mut on_line);
//! splitter.finish(&mut on_line);
//! assert_eq!(seen, [
//!     "Line([111, 110, 101])",
//!     "Blank",
//!     "Oversize { len: 15 }",
//!     "Line([116, 119, 111])",
//! ]);
//! ```

/// One result of splitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEvent<'a> {
    /// A complete, non-blank line without its terminator (`\n` or `\r\n`).
    Line(&'a [u8]),
    /// An empty or whitespace-only line (spaces, tabs), to be ignored and counted.
    Blank,
    /// A line over the limit, discarded; `len` is its length without the terminator.
    Oversize {
        /// Length in bytes of the discarded line (terminator excluded).
        len: u64,
    },
}

/// Splits a byte stream into lines with a length limit; see the [module docs](self).
#[derive(Debug)]
pub struct LineSplitter {
    max_line_bytes: usize,
    buf: Vec<u8>,
    /// `Some((len so far, last byte))` while discarding an over-long line.
    discarding: Option<(u64, u8)>,
}

impl LineSplitter {
    /// A splitter accepting lines of up to `max_line_bytes` bytes (terminator excluded).
    pub fn new(max_line_bytes: usize) -> Self {
        LineSplitter {
            max_line_bytes,
            buf: Vec::new(),
            discarding: None,
        }
    }

    /// The configured limit.
    pub fn max_line_bytes(&self) -> usize {
        self.max_line_bytes
    }

    /// Bytes of an incomplete line currently held (never more than `max_line_bytes + 1`).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// True while the rest of an over-long line is being skipped.
    pub fn is_discarding(&self) -> bool {
        self.discarding.is_some()
    }

    /// Feeds the next chunk, calling `on_line` for every line it completes.
    pub fn push<F: FnMut(LineEvent<'_>)>(&mut self, mut chunk: &[u8], mut on_line: F) {
        while !chunk.is_empty() {
            let nl = memchr_newline(chunk);
            let (part, rest, complete) = match nl {
                Some(i) => (&chunk[..i], &chunk[i + 1..], true),
                None => (chunk, &[][..], false),
            };
            chunk = rest;
            if let Some((len, last)) = self.discarding.as_mut() {
                *len += part.len() as u64;
                if let Some(&b) = part.last() {
                    *last = b;
                }
                if complete {
                    let (len, last) = (*len, *last);
                    self.discarding = None;
                    on_line(LineEvent::Oversize {
                        len: strip_cr_len(len, Some(last)),
                    });
                }
                continue;
            }
            if complete && self.buf.is_empty() {
                // Fast path: the whole line is inside this chunk, no copy.
                self.emit(part, &mut on_line);
                continue;
            }
            // `max + 1` leaves room for a `\r` whose `\n` has not arrived yet.
            if self.buf.len() + part.len() > self.max_line_bytes.saturating_add(1) {
                let len = (self.buf.len() + part.len()) as u64;
                let last = part.last().or(self.buf.last()).copied();
                self.buf.clear();
                if complete {
                    on_line(LineEvent::Oversize {
                        len: strip_cr_len(len, last),
                    });
                } else {
                    let last = last.unwrap_or(0);
                    self.discarding = Some((len, last));
                }
                continue;
            }
            self.buf.extend_from_slice(part);
            if complete {
                let line = std::mem::take(&mut self.buf);
                self.emit(&line, &mut on_line);
                self.buf = line;
                self.buf.clear();
            }
        }
    }

    /// Signals EOF: a buffered last line without `\n` is reported (an over-long one as
    /// `Oversize`). The splitter is then empty and can be reused.
    pub fn finish<F: FnMut(LineEvent<'_>)>(&mut self, mut on_line: F) {
        if let Some((len, _)) = self.discarding.take() {
            on_line(LineEvent::Oversize { len });
            return;
        }
        if self.buf.is_empty() {
            return;
        }
        let line = std::mem::take(&mut self.buf);
        self.emit(&line, &mut on_line);
    }

    fn emit<F: FnMut(LineEvent<'_>)>(&self, raw: &[u8], on_line: &mut F) {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.len() > self.max_line_bytes {
            on_line(LineEvent::Oversize {
                len: line.len() as u64,
            });
        } else if crate::wire::is_blank(line) {
            on_line(LineEvent::Blank);
        } else {
            on_line(LineEvent::Line(line));
        }
    }
}

/// Length without a trailing `\r`, given the last byte of the final segment.
fn strip_cr_len(len: u64, last: Option<u8>) -> u64 {
    if last == Some(b'\r') {
        len - 1
    } else {
        len
    }
}

fn memchr_newline(b: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // Eight bytes at a time ("has zero byte" on `w ^ '\n'`), then the exact position.
    let mut i = 0;
    while let Some(word) = b.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let x = u64::from_le_bytes(w) ^ (LO * u64::from(b'\n'));
        if x.wrapping_sub(LO) & !x & HI != 0 {
            break;
        }
        i += 8;
    }
    b[i..].iter().position(|&c| c == b'\n').map(|p| i + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(max: usize, chunks: &[&[u8]]) -> Vec<String> {
        let mut s = LineSplitter::new(max);
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, |ev| out.push(describe(ev)));
            assert!(s.buffered() <= max + 1);
        }
        s.finish(|ev| out.push(describe(ev)));
        out
    }

    #[test]
    fn newline_search_finds_the_first_newline_at_every_offset() {
        for len in 0..40 {
            for nl in 0..len {
                let mut v = vec![b'\n' + 1; len];
                v[nl] = b'\n';
                if nl + 3 < len {
                    v[nl + 3] = b'\n';
                }
                assert_eq!(memchr_newline(&v), Some(nl), "len {len} nl {nl}");
            }
            assert_eq!(memchr_newline(&vec![b'\t'; len]), None);
        }
    }

    fn describe(ev: LineEvent<'_>) -> String {
        match ev {
            LineEvent::Line(l) => String::from_utf8_lossy(l).into_owned(),
            LineEvent::Blank => "<blank>".into(),
            LineEvent::Oversize { len } => format!("<oversize {len}>"),
        }
    }

    #[test]
    fn exact_limit_is_accepted_one_more_is_not() {
        assert_eq!(
            split(4, &[b"abcd\nabcde\nxy\n"]),
            ["abcd", "<oversize 5>", "xy"]
        );
        assert_eq!(split(4, &[b"abcd\r\n"]), ["abcd"]);
        // Byte by byte gives the same result.
        let bytes = b"abcd\r\nabcde\r\n\r\nxy";
        let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(split(4, &chunks), ["abcd", "<oversize 5>", "<blank>", "xy"]);
    }

    #[test]
    fn oversize_at_eof_and_mid_chunk() {
        assert_eq!(split(2, &[b"abc", b"def"]), ["<oversize 6>"]);
        assert_eq!(split(2, &[b"ab", b"cdef\nok\n"]), ["<oversize 6>", "ok"]);
    }

    #[test]
    fn any_chunking_gives_the_same_lines() {
        let data = b"{\"a\":1}\n\n  \r\nxxxxxxxxxxxxxxxxxxxxxxx\nlast\r\nend";
        let whole = split(10, &[data]);
        for size in 1..data.len() {
            let chunks: Vec<&[u8]> = data.chunks(size).collect();
            assert_eq!(split(10, &chunks), whole, "chunk size {size}");
        }
    }
}
