//! Streaming redaction for `exec --redact`: every injected value, and its common encodings (see
//! [`super::encodings`]), is replaced by `[REDACTED:NAME]` in the child's output. Each line of a
//! multiline value is a pattern of its own too (see [`line_patterns`]), so a program that prints one
//! line of a PEM key does not leak it.
//!
//! Output arrives in arbitrary chunks, so a value can be split across two reads. The redactor runs one
//! Aho-Corasick automaton over the stream, byte by byte, carrying its state from one read to the next.
//! The automaton's state says how long the longest tail of the output is that could still grow into a
//! match (its depth in the trie of patterns): only that tail is held back, at most the longest
//! pattern's length, and everything before it is written at once. Interactive output (a prompt without
//! a newline) is not delayed unless it really might be the beginning of a secret.
//!
//! Every byte covered by an occurrence of any pattern is masked, overlapping occurrences included (an
//! occurrence that overlaps another is not left half visible). Overlapping occurrences become one
//! marker, named for the leftmost one (the longest of those starting there); occurrences that merely
//! touch get one marker each. The work is linear in the output and in the total length of the
//! patterns: no per-prefix tables, no rescanning of held-back text.

use std::collections::VecDeque;
use std::sync::Arc;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::nfa::noncontiguous::NFA;
use aho_corasick::{Anchored, MatchKind};
use zeroize::Zeroizing;

use super::encodings;

/// Values shorter than this are not redacted: masking every `1` or `on` in the output would make it
/// unreadable while protecting nothing.
pub const MIN_VALUE_LEN: usize = 4;

/// A line of a multiline value is redacted on its own only if it has at least this many bytes (after
/// trimming surrounding whitespace). Lines of configuration files are often public boilerplate
/// (`apiVersion: v1`, `kind: Config`, `[default]`): masking them everywhere in the output would hide
/// ordinary text, while the lines that carry a secret (base64 rows of a key, tokens) are long.
pub const MIN_LINE_LEN: usize = 16;

/// The redactor reads and holds at most this many bytes of a chunk at a time, so its buffer is sized
/// once and never grows (a growing buffer leaves an unwiped copy of held-back text behind).
const PIECE: usize = 16 * 1024;

/// What the redactor needs to know about one automaton state.
#[derive(Clone, Copy, Default)]
struct StateInfo {
    /// Length of the text this state stands for: the longest tail of the output that is a prefix of
    /// some pattern.
    depth: u32,
    /// The pattern to report when the automaton is in this state: the longest one ending here (the
    /// lowest id among equals), or `u32::MAX` for none.
    best: u32,
}

/// The compiled set of values to redact. Cheap to share between the stdout and stderr streams.
pub struct Patterns {
    /// Standard (overlapping) semantics, no prefilter: a prefilter keeps its own copies of pattern
    /// bytes (memmem finders, rare-byte tables) that are freed unwiped; the automaton alone spreads
    /// them over its states' transition lists.
    nfa: Option<NFA>,
    /// Indexed by state id (the noncontiguous NFA numbers its states densely).
    states: Vec<StateInfo>,
    /// The replacement text of each pattern id.
    replacement: Vec<Arc<[u8]>>,
    /// The length of each pattern id.
    lens: Vec<u32>,
    max_len: usize,
}

impl std::fmt::Debug for Patterns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Patterns({} forms)", self.replacement.len())
    }
}

/// The lines of a multiline `value` that are long enough to be redacted on their own: each line
/// trimmed of surrounding whitespace (so an indented or CRLF copy still matches), at least
/// [`MIN_LINE_LEN`] bytes, and not a PEM armour line (`-----BEGIN ...-----`, `-----END ...-----`),
/// which is the same public text in every key. A single-line value has none: the value itself is the
/// pattern.
pub fn line_patterns(value: &[u8]) -> Vec<&[u8]> {
    if !value.contains(&b'\n') {
        return Vec::new();
    }
    value
        .split(|b| *b == b'\n')
        .map(|line| line.trim_ascii())
        .filter(|line| line.len() >= MIN_LINE_LEN)
        .filter(|line| {
            !(line.starts_with(b"-----")
                && line.ends_with(b"-----")
                && (line.starts_with(b"-----BEGIN ") || line.starts_with(b"-----END ")))
        })
        .collect()
}

impl Patterns {
    /// Compile patterns for `(name, value)` pairs. Values shorter than [`MIN_VALUE_LEN`] are skipped;
    /// [`Patterns::skipped`] names them.
    pub fn new<'a>(secrets: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Patterns {
        let mut pats: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        let mut replacement = Vec::new();
        for (name, value) in secrets {
            if value.len() < MIN_VALUE_LEN {
                continue;
            }
            let marker: Arc<[u8]> = format!("[REDACTED:{name}]").into_bytes().into();
            for form in encodings::forms(value) {
                pats.push(form);
                replacement.push(marker.clone());
            }
            for line in line_patterns(value) {
                pats.push(Zeroizing::new(line.to_vec()));
                replacement.push(marker.clone());
            }
        }
        let max_len = pats.iter().map(|p| p.len()).max().unwrap_or(0);
        let lens = pats.iter().map(|p| p.len() as u32).collect();
        if pats.is_empty() {
            return Patterns {
                nfa: None,
                states: Vec::new(),
                replacement,
                lens,
                max_len,
            };
        }
        let nfa = NFA::builder()
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .build(pats.iter().map(|p| p.as_slice()))
            .expect("patterns within the automaton's limits");
        let states = state_table(&nfa, &pats);
        Patterns {
            nfa: Some(nfa),
            states,
            replacement,
            lens,
            max_len,
        }
    }

    /// Names whose values are too short to redact.
    pub fn skipped<'a>(secrets: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Vec<&'a str> {
        secrets
            .into_iter()
            .filter(|(_, v)| !v.is_empty() && v.len() < MIN_VALUE_LEN)
            .map(|(n, _)| n)
            .collect()
    }

    /// Redact a whole buffer at once.
    pub fn redact_all(&self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len());
        let mut r = self.stream();
        r.push(input, &mut out);
        r.finish(&mut out);
        out
    }

    /// A streaming redactor over these patterns.
    pub fn stream(&self) -> Redactor<'_> {
        let state = match &self.nfa {
            Some(nfa) => nfa
                .start_state(Anchored::No)
                .expect("unanchored searches are supported"),
            None => StateID::ZERO,
        };
        // Room for the longest tail that can be held back plus one piece, twice over for the held
        // tail, so that moving the tail to the front happens at most once per `max_len` bytes.
        let capacity = if self.nfa.is_some() {
            2 * self.max_len + PIECE
        } else {
            0
        };
        Redactor {
            patterns: self,
            state,
            pos: 0,
            out_pos: 0,
            held: Zeroizing::new(Vec::with_capacity(capacity)),
            held_from: 0,
            open: None,
            pending: VecDeque::new(),
        }
    }
}

/// Depth and best match of every state, found by walking each pattern from the anchored start: every
/// trie state is a prefix of some pattern, so this visits them all, in time linear in the total
/// pattern length.
fn state_table(nfa: &NFA, pats: &[Zeroizing<Vec<u8>>]) -> Vec<StateInfo> {
    let total: usize = pats.iter().map(|p| p.len()).sum();
    let mut table = vec![
        StateInfo {
            depth: 0,
            best: u32::MAX
        };
        total + 4
    ];
    let start = nfa
        .start_state(Anchored::Yes)
        .expect("anchored searches are supported");
    for p in pats {
        let mut sid = start;
        for (i, &b) in p.iter().enumerate() {
            sid = nfa.next_state(Anchored::Yes, sid, b);
            let at = sid.as_usize();
            if at >= table.len() {
                table.resize(
                    (at + 1).max(table.len() * 2),
                    StateInfo {
                        depth: 0,
                        best: u32::MAX,
                    },
                );
            }
            if table[at].depth != 0 {
                continue;
            }
            table[at].depth = (i + 1) as u32;
            if nfa.is_match(sid) {
                let mut best: Option<(usize, u32)> = None;
                for k in 0..nfa.match_len(sid) {
                    let pid = nfa.match_pattern(sid, k);
                    let len = nfa.pattern_len(pid);
                    let id = pid.as_u32();
                    if best.is_none_or(|(l, b)| len > l || (len == l && id < b)) {
                        best = Some((len, id));
                    }
                }
                table[at].best = best.map_or(u32::MAX, |(_, id)| id);
            }
        }
    }
    table
}

/// A run of masked output not yet written: `[start, end)` in stream positions, and the pattern that
/// names it (the leftmost occurrence in it; the longest of those starting there).
#[derive(Clone, Copy)]
struct Interval {
    start: usize,
    end: usize,
    pattern: u32,
}

/// A redactor for one stream. Feed it chunks with [`Redactor::push`], then call [`Redactor::finish`].
pub struct Redactor<'a> {
    patterns: &'a Patterns,
    state: StateID,
    /// Bytes of the stream seen so far.
    pos: usize,
    /// Every byte before this position has been written or masked.
    out_pos: usize,
    /// The bytes `[out_pos, pos)` are `held[held_from..]`. Allocated once, never grown.
    held: Zeroizing<Vec<u8>>,
    held_from: usize,
    /// The end of a masked run whose marker is already written and which a later occurrence may still
    /// extend.
    open: Option<usize>,
    /// Masked runs after `out_pos`, in order, disjoint.
    pending: VecDeque<Interval>,
}

impl Redactor<'_> {
    /// Add a chunk; append to `out` everything that can no longer be part of a match.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let Some(nfa) = &self.patterns.nfa else {
            out.extend_from_slice(chunk);
            return;
        };
        for piece in chunk.chunks(PIECE) {
            if self.held.len() + piece.len() > self.held.capacity() {
                let live = self.held.len() - self.held_from;
                self.held.copy_within(self.held_from.., 0);
                self.held.truncate(live);
                self.held_from = 0;
            }
            self.held.extend_from_slice(piece);
            for &b in piece {
                self.state = nfa.next_state(Anchored::No, self.state, b);
                self.pos += 1;
                if nfa.is_match(self.state) {
                    let best = self.patterns.states[self.state.as_usize()].best;
                    let len = self.patterns.lens[best as usize] as usize;
                    self.add(self.pos - len, best);
                }
            }
            let depth = self.patterns.states[self.state.as_usize()].depth as usize;
            self.flush(self.pos - depth, out);
        }
    }

    /// The stream ended: flush the held-back tail, redacting any match in it.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.patterns.nfa.is_some() {
            self.flush(self.pos, out);
        }
    }

    /// Record an occurrence of `pattern` over `[start, self.pos)`, merging it with the runs it overlaps.
    fn add(&mut self, start: usize, pattern: u32) {
        let end = self.pos;
        if let Some(open_end) = self.open {
            if start < open_end {
                // Every pending run starts after the open one, so this covers them all.
                self.open = Some(end);
                self.pending.clear();
                return;
            }
        }
        let mut run = Interval {
            start,
            end,
            pattern,
        };
        while let Some(last) = self.pending.back().copied() {
            if last.end <= start {
                break;
            }
            self.pending.pop_back();
            let last_len = self.patterns.lens[last.pattern as usize] as usize;
            let run_len = self.patterns.lens[run.pattern as usize] as usize;
            if last.start < run.start || (last.start == run.start && last_len >= run_len) {
                run.start = last.start;
                run.pattern = last.pattern;
            }
        }
        self.pending.push_back(run);
    }

    /// Write out (or mask) everything before `safe`: no occurrence that ends later can start there.
    fn flush(&mut self, safe: usize, out: &mut Vec<u8>) {
        let mut cur = self.out_pos;
        if let Some(open_end) = self.open {
            if open_end <= safe {
                cur = open_end;
                self.open = None;
            } else {
                cur = safe;
            }
        }
        while self.open.is_none() {
            let Some(run) = self.pending.front().copied() else {
                break;
            };
            if run.start >= safe {
                break;
            }
            self.pending.pop_front();
            out.extend_from_slice(self.held_slice(cur, run.start));
            out.extend_from_slice(&self.patterns.replacement[run.pattern as usize]);
            if run.end <= safe {
                cur = run.end;
            } else {
                cur = safe;
                self.open = Some(run.end);
            }
        }
        if cur < safe {
            out.extend_from_slice(self.held_slice(cur, safe));
        }
        self.held_from += safe - self.out_pos;
        self.out_pos = safe;
    }

    /// The held bytes at stream positions `[from, to)`.
    fn held_slice(&self, from: usize, to: usize) -> &[u8] {
        let base = self.held_from;
        &self.held[base + (from - self.out_pos)..base + (to - self.out_pos)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats() -> Patterns {
        Patterns::new([("TOKEN", &b"hunter2-canary"[..]), ("SHORT", &b"ab"[..])])
    }

    #[test]
    fn replaces_values_and_skips_short_ones() {
        let p = pats();
        let out = p.redact_all(b"token=hunter2-canary ab!");
        assert_eq!(out, b"token=[REDACTED:TOKEN] ab!");
    }

    #[test]
    fn catches_a_value_split_across_chunks() {
        let p = pats();
        let mut r = p.stream();
        let mut out = Vec::new();
        r.push(b"x hunter", &mut out);
        assert_eq!(out, b"x ", "the possible prefix is held back");
        r.push(b"2-can", &mut out);
        r.push(b"ary y", &mut out);
        r.finish(&mut out);
        assert_eq!(out, b"x [REDACTED:TOKEN] y");
    }

    #[test]
    fn does_not_hold_back_text_that_cannot_start_a_value() {
        let p = pats();
        let mut r = p.stream();
        let mut out = Vec::new();
        r.push(b"Password: ", &mut out);
        assert_eq!(out, b"Password: ");
    }

    #[test]
    fn overlapping_occurrences_are_masked_whole() {
        let p = Patterns::new([("A", &b"abab"[..]), ("B", &b"wxyz"[..])]);
        // Leftmost-first matching would have left the final "ab" visible.
        assert_eq!(p.redact_all(b"<ababab>"), b"<[REDACTED:A]>");
        // Touching occurrences get a marker each.
        assert_eq!(p.redact_all(b"ababwxyz"), b"[REDACTED:A][REDACTED:B]");
    }

    #[test]
    fn a_longer_value_wins_over_a_shorter_one_at_the_same_start() {
        let p = Patterns::new([("SHORT", &b"secret"[..]), ("LONG", &b"secret-and-more"[..])]);
        assert_eq!(p.redact_all(b"x secret-and-more y"), b"x [REDACTED:LONG] y");
        assert_eq!(
            p.redact_all(b"x secret-and-mo y"),
            b"x [REDACTED:SHORT]-and-mo y"
        );
    }

    #[test]
    fn a_long_masked_run_is_not_held_in_memory() {
        // "abab" repeated forms one overlapping run; the marker is written as soon as the run is
        // certain, and the rest of the run is swallowed without being held.
        let p = Patterns::new([("A", &b"abab"[..])]);
        let mut r = p.stream();
        let mut out = Vec::new();
        for _ in 0..1000 {
            r.push(&b"ab".repeat(1000), &mut out);
        }
        assert_eq!(
            r.held.capacity(),
            2 * p.max_len + PIECE,
            "the buffer never grew"
        );
        r.push(b"!", &mut out);
        r.finish(&mut out);
        assert_eq!(out, b"[REDACTED:A]!");
    }

    #[test]
    fn lines_of_a_multiline_value_are_patterns_but_armour_and_short_lines_are_not() {
        let pem = b"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n  short\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            line_patterns(pem),
            vec![&b"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"[..]]
        );
        assert!(line_patterns(b"a-single-line-value-of-some-length").is_empty());
        let p = Patterns::new([("KEY", &pem[..])]);
        assert_eq!(
            p.redact_all(b"line: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\r\n"),
            b"line: [REDACTED:KEY]\r\n"
        );
        assert_eq!(
            p.redact_all(b"-----BEGIN PRIVATE KEY-----\n"),
            b"-----BEGIN PRIVATE KEY-----\n"
        );
        let mut whole = b"<".to_vec();
        whole.extend_from_slice(pem);
        whole.push(b'>');
        assert_eq!(p.redact_all(&whole), b"<[REDACTED:KEY]>");
    }
}
