//! Finding the vault's values in a buffer, fast, without a prefilter that copies them.
//!
//! aho-corasick's own prefilters would make this fast, but they keep copies of the needle bytes
//! (the vault's values) in memory keep cannot wipe (`tests/canary_zeroize.rs`), so the automaton is
//! built with `.prefilter(false)`, and an unanchored search without a prefilter walks the automaton
//! over every byte: with thousands of values its states no longer fit the caches and a scan became
//! several times slower. This module puts keep's own filter in front of the automaton instead:
//!
//! - Every needle is at least [`MIN_NEEDLE`] (8) bytes long. The buffer is probed every [`STRIDE`]
//!   (4) bytes: the [`GRAM`] (5) bytes at a probe, read as a `u64`, are hashed (multiply by a random
//!   odd key, keep the top bits) into a bitset, twice, with two keys and two bitsets. A needle
//!   starting at `s` covers the next probe `p` (`s <= p < s + 4`) with the gram at its offset `p - s`,
//!   which lies within its first 8 bytes; so each needle sets the bits of its grams at offsets 0 to
//!   3 (about 16 bits of each bitset per gram: each lets through a few percent of probes, both
//!   together a few in ten thousand).
//! - Only where a probe passes both bitsets does the automaton run, anchored at each of the (at most
//!   4) starts that probe covers, leftmost first.
//! - Matches are the ones an unanchored `LeftmostLongest` search reports, in the same order: the
//!   first start (from the end of the last match on) where some needle matches, and there the
//!   longest one; an anchored `LeftmostLongest` search at a start reports exactly that.
//!
//! Probing every 4th byte rather than every byte (hashing each position's first 8 bytes) costs a
//! quarter as much per byte, and 5-byte grams of random values still almost never occur in code.
//! Values whose first bytes are common text (a run of spaces, `https://`) make the probes pass
//! more often and the scan slower, never different. The bitsets and keys live in buffers keep owns
//! and wipes on drop; they hold a keyed, lossy hash of 8 bytes of each value, not the bytes (see
//! SECURITY.md). A needle set with a value shorter than [`MIN_NEEDLE`] (the scanner drops those,
//! other callers may not) falls back to the plain search.

use aho_corasick::{AhoCorasick, Anchored, Input, MatchKind, StartKind};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The shortest needle the filter serves (the scanner looks for no shorter vault value).
pub const MIN_NEEDLE: usize = 8;

/// How many bytes the filter hashes at each probe.
pub const GRAM: usize = 5;

/// Probes sit every STRIDE bytes: a needle starting anywhere shows one of its first STRIDE grams
/// (at offsets 0..STRIDE, all within its first [`MIN_NEEDLE`] bytes) to exactly one probe.
pub const STRIDE: usize = MIN_NEEDLE + 1 - GRAM;

const GRAM_MASK: u64 = u64::MAX >> (64 - 8 * GRAM);

/// Bits of each bitset per gram of each needle: each bitset lets about 1 in 16 probes through.
const BITS_PER_GRAM: usize = 16;

/// The smallest bitset (4 KiB): a few needles then let through almost nothing.
const MIN_BITS: usize = 1 << 15;

/// The vault values' matcher: one automaton, behind keep's filter when every needle allows one.
pub struct VaultMatcher {
    ac: AhoCorasick,
    filter: Option<Filter>,
}

/// Two keyed multiplicative hashes of a probe's gram, each into its own bitset.
struct Filter {
    /// Random odd multipliers, chosen per matcher (per scan).
    keys: Zeroizing<[u64; 2]>,
    /// `64 - log2(bits)`: the product's top bits are the bit index.
    shift: u32,
    first: Zeroizing<Vec<u64>>,
    second: Zeroizing<Vec<u64>>,
}

impl VaultMatcher {
    /// Build the automaton and, if every needle is at least [`MIN_NEEDLE`] bytes, the filter.
    pub fn new<'a>(needles: impl ExactSizeIterator<Item = &'a [u8]> + Clone) -> Result<Self> {
        let filtered = needles.clone().all(|n| n.len() >= MIN_NEEDLE);
        // No prefilter: it keeps unwiped copies of the needles (the vault's values) and frees them
        // so; the automaton alone spreads them over its states (tests/canary_zeroize.rs).
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .start_kind(if filtered {
                StartKind::Anchored
            } else {
                StartKind::Unanchored
            })
            .prefilter(false)
            .build(needles.clone())
            .map_err(|e| Error::Usage(format!("cannot build the vault automaton: {e}")))?;
        let filter = filtered.then(|| Filter::new(needles));
        Ok(VaultMatcher { ac, filter })
    }

    /// Append every match in `hay`, as `(start, end, needle index)`, leftmost-longest and
    /// non-overlapping: what `AhoCorasick::find_iter` with `MatchKind::LeftmostLongest` reports.
    pub fn find_all(&self, hay: &[u8], out: &mut Vec<(usize, usize, usize)>) {
        let Some(filter) = &self.filter else {
            out.extend(
                self.ac
                    .find_iter(hay)
                    .map(|m| (m.start(), m.end(), m.pattern().as_usize())),
            );
            return;
        };
        // Matches start at `at` or later; probes sit at multiples of STRIDE.
        let mut at = 0;
        let mut probe = 0;
        while let Some(p) = filter.next_pass(hay, probe) {
            probe = p + STRIDE;
            // A needle starting at `s` shows its gram at offset `p - s` to the probe `p` that
            // follows it within STRIDE - 1 bytes: try each such start, leftmost first.
            for s in at.max((p + 1).saturating_sub(STRIDE))..=p {
                let input = Input::new(hay).span(s..hay.len()).anchored(Anchored::Yes);
                if let Some(m) = self.ac.find(input) {
                    out.push((m.start(), m.end(), m.pattern().as_usize()));
                    at = m.end();
                    probe = at.div_ceil(STRIDE) * STRIDE;
                    break;
                }
            }
        }
    }
}

impl Filter {
    fn new<'a>(needles: impl ExactSizeIterator<Item = &'a [u8]>) -> Filter {
        let bits = (needles.len() * STRIDE * BITS_PER_GRAM)
            .max(MIN_BITS)
            .next_power_of_two();
        let mut keys = Zeroizing::new([0u64; 2]);
        for k in keys.iter_mut() {
            *k = u64::from_le_bytes(crate::crypto::random::bytes::<8>()) | 1;
        }
        let mut filter = Filter {
            keys,
            shift: 64 - bits.trailing_zeros(),
            first: Zeroizing::new(vec![0u64; bits / 64]),
            second: Zeroizing::new(vec![0u64; bits / 64]),
        };
        for n in needles {
            for offset in 0..STRIDE {
                let g = gram(n, offset);
                let (a, b) = (filter.index(g, 0), filter.index(g, 1));
                filter.first[a >> 6] |= 1 << (a & 63);
                filter.second[b >> 6] |= 1 << (b & 63);
            }
        }
        filter
    }

    /// The bit of gram `g` in bitset `which`.
    #[inline(always)]
    fn index(&self, g: u64, which: usize) -> usize {
        (g.wrapping_mul(self.keys[which]) >> self.shift) as usize
    }

    /// The first probe position, a multiple of [`STRIDE`] from `from` on (itself one), whose gram
    /// passes both bitsets.
    #[inline]
    fn next_pass(&self, hay: &[u8], from: usize) -> Option<usize> {
        let end = hay.len().checked_sub(GRAM - 1)?;
        let (first, second) = (&self.first[..], &self.second[..]);
        (from..end).step_by(STRIDE).find(|&p| {
            let g = gram(hay, p);
            let a = self.index(g, 0);
            first[a >> 6] & (1 << (a & 63)) != 0 && {
                let b = self.index(g, 1);
                second[b >> 6] & (1 << (b & 63)) != 0
            }
        })
    }
}

/// The [`GRAM`] bytes at `at`, little-endian in the low bytes of a `u64`: one unaligned 8-byte
/// load, masked, except within 8 bytes of the end.
#[inline(always)]
fn gram(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(eight) = bytes.get(at..at + 8) {
        w.copy_from_slice(eight);
        u64::from_le_bytes(w) & GRAM_MASK
    } else {
        w[..GRAM].copy_from_slice(&bytes[at..at + GRAM]);
        u64::from_le_bytes(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    /// What the scanner did before this module: an unanchored `LeftmostLongest` search.
    fn plain(needles: &[Vec<u8>], hay: &[u8]) -> Vec<(usize, usize, usize)> {
        AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(needles)
            .unwrap()
            .find_iter(hay)
            .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
            .collect()
    }

    fn filtered(needles: &[Vec<u8>], hay: &[u8]) -> Vec<(usize, usize, usize)> {
        let m = VaultMatcher::new(needles.iter().map(Vec::as_slice)).unwrap();
        let mut out = Vec::new();
        m.find_all(hay, &mut out);
        out
    }

    /// Needles drawn from a small alphabet so they share prefixes and overlap one another: exactly
    /// 8 bytes, long ones, one that extends another, one that is another's 8-byte prefix plus a
    /// tail, and duplicates (the same value under two addresses).
    fn needle_set() -> impl Strategy<Value = Vec<Vec<u8>>> {
        let one = prop::collection::vec(prop::sample::select(b"abcx".to_vec()), 8..40);
        prop::collection::vec(one, 1..12).prop_map(|mut ns| {
            let first = ns[0].clone();
            ns.push([&first[..], b"tail"].concat());
            ns.push([&first[..8], b"other-tail"].concat());
            ns.push(first[..8].to_vec());
            ns.push(first);
            ns
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// The filtered matcher reports exactly what the plain automaton reports, on random text
        /// with needles (and pieces of needles) planted anywhere, including at both ends.
        #[test]
        fn same_matches_as_the_plain_automaton(
            needles in needle_set(),
            noise in prop::collection::vec(prop::sample::select(b"abcxy\n".to_vec()), 0..300),
            plants in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), 0usize..48), 0..8),
        ) {
            let mut hay = noise;
            for (at, which, cut) in plants {
                let n = which.get(&needles);
                let piece = &n[..n.len().min(cut.max(1))];
                let at = if hay.is_empty() { 0 } else { at.index(hay.len() + 1) };
                hay.splice(at..at, piece.iter().copied());
            }
            let head = [&needles[0][..], &hay[..]].concat();
            let tail = [&hay[..], &needles[needles.len() - 1][..]].concat();
            for h in [&hay, &head, &tail] {
                prop_assert_eq!(filtered(&needles, h), plain(&needles, h));
            }
        }
    }

    #[test]
    fn buffers_shorter_than_a_needle_and_exact_fits() {
        let needles = vec![b"12345678".to_vec(), b"1234567890".to_vec()];
        for hay in [
            &b""[..],
            b"1234567",
            b"12345678",
            b"123456789",
            b"1234567890",
            b"x12345678",
        ] {
            assert_eq!(filtered(&needles, hay), plain(&needles, hay), "{hay:?}");
        }
        assert_eq!(filtered(&needles, b"x12345678"), [(1, 9, 0)]);
        assert_eq!(filtered(&needles, b"1234567890"), [(0, 10, 1)]);
    }

    #[test]
    fn many_needles_in_ordinary_text() {
        let needles: Vec<Vec<u8>> = (0..5000u32)
            .map(|i| format!("value-{i:05}-{}", "x".repeat((i % 30) as usize)).into_bytes())
            .collect();
        let mut hay = Vec::new();
        for i in (0..5000u32).step_by(7) {
            hay.extend_from_slice(b"let a = \"");
            hay.extend_from_slice(&needles[i as usize]);
            hay.extend_from_slice(b"\"; // value-0 value-");
        }
        let want = plain(&needles, &hay);
        assert_eq!(want.len(), 715);
        assert_eq!(filtered(&needles, &hay), want);
    }

    #[test]
    fn a_needle_shorter_than_8_bytes_falls_back_to_the_plain_search() {
        let needles = vec![b"short".to_vec(), b"a longer one".to_vec()];
        let m = VaultMatcher::new(needles.iter().map(Vec::as_slice)).unwrap();
        assert!(m.filter.is_none());
        let hay = b"a short and a longer one";
        assert_eq!(filtered(&needles, hay), plain(&needles, hay));
        assert_eq!(filtered(&needles, hay).len(), 2);
    }
}
