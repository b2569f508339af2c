//! The plaintext of an entry's sealed address list: every secret one command touched, in the
//! command's order, in one compact byte string that `entry.rs` seals as a whole.
//!
//! Why compact: a command that reads 100 secrets writes one entry, and the goal is that the entry
//! costs the vault at most about 1 KiB (issue 17). Addresses of one command share their scope and
//! often a prefix (`default/dev/SECRET_0..`), so each address is stored front-coded against the one
//! before it: how many leading bytes it shares with the previous address, then the rest.
//!
//! ```text
//! list    = VERSION item*
//! item    = varint(shared) varint(len) suffix[len]      address_i = address_{i-1}[..shared] || suffix
//! address = "PROJECT/ENV/NAME" (UTF-8)                  varint = unsigned LEB128, at most 32 bits
//! ```
//!
//! This is an encoding, not protection: the list is sealed with the names key afterwards. Decoding
//! is strict anyway (a key holder could seal anything): any shared length beyond the previous
//! address, truncated field or unparsable address fails the whole list.

use crate::scope::{Address, Scope, SCHEME};

/// The first byte of every list this build writes.
const VERSION: u8 = 1;

/// `PROJECT/ENV/NAME`, the text form inside the list.
fn text_of(address: &Address) -> String {
    format!(
        "{}/{}/{}",
        address.scope.project(),
        address.scope.env(),
        address.name
    )
}

/// Parse the text form back (the names were valid when written; anything else is damage).
pub fn parse_text(text: &str) -> Option<Address> {
    // The scope argument is unused for a full `keep://` address.
    let fallback = Scope::new("x", "x").ok()?;
    Address::parse(&format!("{SCHEME}{text}"), &fallback).ok()
}

/// Encode `addresses`, in order.
pub fn encode(addresses: &[Address]) -> Vec<u8> {
    let mut out = vec![VERSION];
    let mut prev = String::new();
    for address in addresses {
        let text = text_of(address);
        let shared = prev
            .bytes()
            .zip(text.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        let suffix = &text.as_bytes()[shared..];
        put_varint(&mut out, shared);
        put_varint(&mut out, suffix.len());
        out.extend_from_slice(suffix);
        prev = text;
    }
    out
}

/// Decode a list written by [`encode`]; `None` for anything else.
pub fn decode(bytes: &[u8]) -> Option<Vec<Address>> {
    let (&version, mut rest) = bytes.split_first()?;
    if version != VERSION {
        return None;
    }
    let mut out = Vec::new();
    let mut prev: Vec<u8> = Vec::new();
    while !rest.is_empty() {
        let shared = take_varint(&mut rest)?;
        let len = take_varint(&mut rest)?;
        if shared > prev.len() || len > rest.len() {
            return None;
        }
        let (suffix, tail) = rest.split_at(len);
        rest = tail;
        prev.truncate(shared);
        prev.extend_from_slice(suffix);
        out.push(parse_text(std::str::from_utf8(&prev).ok()?)?);
    }
    Some(out)
}

/// Unsigned LEB128 (7 bits a byte, low first). Addresses are a few hundred bytes at most.
fn put_varint(out: &mut Vec<u8>, n: usize) {
    let mut n = n as u32;
    loop {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

fn take_varint(rest: &mut &[u8]) -> Option<usize> {
    let mut n: u64 = 0;
    for i in 0..5 {
        let (&b, tail) = rest.split_first()?;
        *rest = tail;
        n |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return u32::try_from(n).ok().map(|n| n as usize);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> Address {
        parse_text(text).unwrap()
    }

    #[test]
    fn lists_round_trip_in_order_across_scopes() {
        let list = vec![
            addr("default/dev/SECRET_001"),
            addr("default/dev/SECRET_002"),
            addr("default/dev/A"),
            addr("other/prod/SECRET_001"),
            addr("default/dev/SECRET_001"),
        ];
        assert_eq!(decode(&encode(&list)).unwrap(), list);
        assert_eq!(decode(&encode(&[])).unwrap(), Vec::<Address>::new());
    }

    #[test]
    fn shared_prefixes_make_a_hundred_names_small() {
        let list: Vec<Address> = (0..100)
            .map(|i| addr(&format!("default/dev/SECRET_{i:03}")))
            .collect();
        let bytes = encode(&list);
        // 22 bytes of text each, stored as about 3 or 4.
        assert!(bytes.len() < 450, "{}", bytes.len());
    }

    #[test]
    fn long_names_need_multi_byte_lengths() {
        // The longest name (256 bytes) puts lengths above 127, into a second varint byte.
        let long = "N".repeat(255);
        let list = vec![addr(&format!("p/e/{long}")), addr(&format!("p/e/{long}X"))];
        assert_eq!(decode(&encode(&list)).unwrap(), list);
    }

    #[test]
    fn malformed_lists_are_refused() {
        let good = encode(&[addr("p/e/AB"), addr("p/e/AC")]);
        // Every truncation but the one at an item boundary fails.
        let boundaries = [1, 1 + 2 + 6];
        for cut in 0..good.len() {
            if !boundaries.contains(&cut) {
                assert!(decode(&good[..cut]).is_none(), "cut at {cut}");
            }
        }
        assert!(decode(&[2]).is_none(), "unknown version");
        assert!(
            decode(&[VERSION, 5, 1, b'A']).is_none(),
            "shares more than exists"
        );
        assert!(
            decode(&[VERSION, 0, 3, b'a', b'/', b'b']).is_none(),
            "not an address"
        );
        assert!(decode(&[VERSION, 0, 2, 0xff, 0xfe]).is_none(), "not UTF-8");
        assert!(
            decode(&[VERSION, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).is_none(),
            "varint too long"
        );
    }
}
