//! Streaming redaction for `exec --redact`: every injected value, and its common encodings (see
//! [`super::encodings`]), is replaced by `[REDACTED:NAME]` in the child's output.
//!
//! Output arrives in arbitrary chunks, so a value can be split across two reads. The redactor keeps back
//! only the shortest tail of what it has seen that could still be the start of a value, and writes
//! everything before it at once: interactive output (a prompt without a newline) is not delayed unless
//! it really might be the beginning of a secret. Matching is one Aho-Corasick pass, leftmost-longest,
//! so a longer form wins over a shorter one that starts at the same place.

use std::collections::HashSet;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};
use zeroize::Zeroizing;

use super::encodings;

/// Values shorter than this are not redacted: masking every `1` or `on` in the output would make it
/// unreadable while protecting nothing.
pub const MIN_VALUE_LEN: usize = 4;

/// The compiled set of values to redact. Cheap to share between the stdout and stderr streams.
pub struct Patterns {
    ac: Option<AhoCorasick>,
    /// The replacement text of each pattern id.
    replacement: Vec<Arc<[u8]>>,
    /// Every proper prefix of every pattern, to decide how much of a chunk's tail must wait.
    prefixes: HashSet<Vec<u8>>,
    max_len: usize,
}

impl std::fmt::Debug for Patterns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Patterns({} forms)", self.replacement.len())
    }
}

impl Drop for Patterns {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for mut p in self.prefixes.drain() {
            p.zeroize();
        }
    }
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
        }
        let max_len = pats.iter().map(|p| p.len()).max().unwrap_or(0);
        let mut prefixes = HashSet::new();
        for p in &pats {
            for end in 1..p.len() {
                prefixes.insert(p[..end].to_vec());
            }
        }
        let ac = (!pats.is_empty()).then(|| {
            // No prefilter: it keeps its own copies of pattern bytes (memmem finders, rare-byte
            // tables) that are freed unwiped; the automaton alone spreads them over its states.
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .prefilter(false)
                .build(pats.iter().map(|p| p.as_slice()))
                .expect("patterns within the automaton's limits")
        });
        Patterns {
            ac,
            replacement,
            prefixes,
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
        Redactor {
            patterns: self,
            pending: Zeroizing::new(Vec::new()),
        }
    }

    /// Where in `buf` the held-back tail starts: the earliest position whose suffix is a proper prefix
    /// of some pattern (so more input could complete a match there), or `buf.len()`.
    fn hold_from(&self, buf: &[u8]) -> usize {
        let from = buf.len().saturating_sub(self.max_len.saturating_sub(1));
        (from..buf.len())
            .find(|&i| self.prefixes.contains(&buf[i..]))
            .unwrap_or(buf.len())
    }
}

impl Patterns {
    /// Copy `buf` to `out` with every match that starts before `limit` replaced; return where the
    /// copying stopped (the end of the last replaced match, or the start of the buffer).
    fn replace_before(
        &self,
        ac: &AhoCorasick,
        buf: &[u8],
        limit: usize,
        out: &mut Vec<u8>,
    ) -> usize {
        let mut pos = 0;
        for m in ac.find_iter(buf) {
            if m.start() >= limit {
                break;
            }
            out.extend_from_slice(&buf[pos..m.start()]);
            out.extend_from_slice(&self.replacement[m.pattern().as_usize()]);
            pos = m.end();
        }
        pos
    }
}

/// A redactor for one stream. Feed it chunks with [`Redactor::push`], then call [`Redactor::finish`].
pub struct Redactor<'a> {
    patterns: &'a Patterns,
    pending: Zeroizing<Vec<u8>>,
}

impl Redactor<'_> {
    /// Add a chunk; append to `out` everything that can no longer be part of a match.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.pending.extend_from_slice(chunk);
        let Some(ac) = &self.patterns.ac else {
            out.append(&mut self.pending);
            return;
        };
        let buf = Zeroizing::new(std::mem::take(&mut *self.pending));
        let safe = self.patterns.hold_from(&buf);
        // A match starting at or after `safe` might still grow (or be a different one) with more
        // input; everything starting before it is complete, because any pattern starting there fits
        // inside the buffer.
        let pos = self.patterns.replace_before(ac, &buf, safe, out);
        let keep_from = pos.max(safe);
        out.extend_from_slice(&buf[pos..keep_from]);
        self.pending.extend_from_slice(&buf[keep_from..]);
    }

    /// The stream ended: flush the held-back tail, redacting any match in it.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let buf = Zeroizing::new(std::mem::take(&mut *self.pending));
        let pos = match &self.patterns.ac {
            Some(ac) => self.patterns.replace_before(ac, &buf, buf.len(), out),
            None => 0,
        };
        out.extend_from_slice(&buf[pos..]);
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
}
