//! Property tests of the line splitter (the framing of
//! `docs/wire-formats.md#collector-ingest-lines`): any chunking of any byte stream gives
//! the lines a simple reference splitter gives, and memory stays bounded.

use proptest::prelude::*;
use tracewire_collector::lines::{LineEvent, LineSplitter};

#[derive(Debug, PartialEq, Eq)]
enum Ev {
    Line(Vec<u8>),
    Blank,
    Oversize(u64),
}

/// The obvious (buffer-everything) definition of the framing rules.
fn reference(data: &[u8], max: usize) -> Vec<Ev> {
    let mut out = Vec::new();
    let mut parts: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let last = parts.pop().unwrap_or(&[]);
    let classify = |raw: &[u8]| {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.len() > max {
            Ev::Oversize(line.len() as u64)
        } else if line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            Ev::Blank
        } else {
            Ev::Line(line.to_vec())
        }
    };
    for p in parts {
        out.push(classify(p));
    }
    if !last.is_empty() {
        // At EOF an over-long tail is reported with its raw length.
        out.push(
            if last.len() > max + 1 || (last.len() == max + 1 && last.last() != Some(&b'\r')) {
                Ev::Oversize(last.len() as u64)
            } else {
                classify(last)
            },
        );
    }
    out
}

fn split(data: &[u8], cuts: &[usize], max: usize) -> Result<Vec<Ev>, TestCaseError> {
    let mut s = LineSplitter::new(max);
    let mut out = Vec::new();
    let mut on = |ev: LineEvent<'_>| {
        out.push(match ev {
            LineEvent::Line(l) => Ev::Line(l.to_vec()),
            LineEvent::Blank => Ev::Blank,
            LineEvent::Oversize { len } => Ev::Oversize(len),
        })
    };
    let mut at = 0;
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    bounds.sort_unstable();
    for b in bounds.into_iter().chain([data.len()]) {
        if b >= at {
            s.push(&data[at..b], &mut on);
            at = b;
            prop_assert!(
                s.buffered() <= max + 1,
                "buffered {} > {}",
                s.buffered(),
                max + 1
            );
        }
    }
    s.finish(&mut on);
    Ok(out)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_chunking_matches_the_reference(
        data in prop::collection::vec(prop::sample::select(vec![b'a', b'{', b'\n', b'\r', b' ']), 0..120),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        max in 1usize..12,
    ) {
        let got = split(&data, &cuts, max)?;
        prop_assert_eq!(got, reference(&data, max));
    }
}
