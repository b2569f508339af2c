//! Which version of each secret is the newest, and which secrets exist, authenticated.
//!
//! Sealing each version with its position as associated data (record.rs) stops edits and swaps, but
//! not deletions: drop the newest `versions` row and the one before it becomes "current"; drop a
//! secret's rows and it is gone. Two records close that:
//!
//! - A **head** per secret (`heads` table): its newest version number and the nonce and tag of that
//!   version's sealed blob ([`digest`]), written in the same transaction as the version. A read checks that the
//!   version the head names exists, is the very blob the head hashed, and that no newer version exists.
//! - A **manifest** (`meta.manifest`): the number of secrets, and for each of 256 buckets the XOR of
//!   a keyed element `E = HMAC(records, "keep/v2/head", vault id, secret id, lookup, version,
//!   digest)` over the heads in it (bucket = secret id mod 256), all under one HMAC. The head rows are
//!   not MAC'd one by one: a head is authentic exactly when its bucket's XOR matches the manifest.
//!
//! Why this shape: the elements are PRF outputs that are never stored, so an attacker who sees every
//! head row and every older copy of the file still cannot pick another combination of heads with the
//! same XOR (an XOR of *public* per-head MACs would fall to linear algebra over GF(2) once a few
//! hundred old heads are at hand). The XOR makes updates O(1): a write XORs out the old element and
//! in the new one, and re-MACs the 8 KiB manifest. Buckets keep reads cheap: `get` recomputes one
//! bucket (1/256 of the vault, ~40 HMACs at 10,000 secrets) instead of every head, while `ls`, `env`,
//! `exec` and `verify`, which read every secret anyway, check all buckets and the count.
//!
//! The manifest also carries a **generation**, advanced by every write transaction. The file alone
//! cannot tell an older manifest (restored with the heads and versions it names) from the newest:
//! both are authentic. So the vault records each new generation outside the file, beside the audit
//! witness (src/audit/generation.rs), and [`Manifest::load`] refuses a manifest older than that
//! record: putting back an older copy of one secret, of several, or of the whole file is exit 5 on
//! the next read of any secret, not only on the next listing. Without the record (another home, or
//! the file deleted) it is as before: undetectable from the file alone (SECURITY.md).

use std::collections::{BTreeSet, HashMap};

use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;

use crate::crypto::keys::{hmac_parts, hmac_parts_verify};
use crate::crypto::Subkeys;
use crate::error::{Error, Result};
use crate::store::{self, bucket_of, Connection, HeadRow, HEAD_BUCKETS};

const META_KEY: &str = "manifest";
const BUCKETS: usize = HEAD_BUCKETS as usize;
/// `count (u64 BE) || 256 bucket digests || generation (u64 BE) || HMAC` (format 5).
const LEN: usize = 8 + BUCKETS * 32 + 8 + 32;
/// The format-4 manifest, without a generation: read as generation 0 until the next write.
const LEN_FORMAT4: usize = LEN - 8;

/// What a head records of its version's sealed blob: its nonce and its Poly1305 tag (40 bytes).
///
/// Every reader also opens the blob at that position, so the pair names exactly one blob: another
/// blob with the same nonce and tag would be a Poly1305 forgery. This costs no hashing, which keeps
/// `ls` of a large vault cheap. A blob too short to hold both is recorded whole (it cannot open).
pub fn digest(sealed: &[u8]) -> Vec<u8> {
    const NONCE: usize = crate::crypto::NONCE_LEN;
    const TAG: usize = crate::crypto::TAG_LEN;
    if sealed.len() < NONCE + TAG {
        return sealed.to_vec();
    }
    let mut d = Vec::with_capacity(NONCE + TAG);
    d.extend_from_slice(&sealed[..NONCE]);
    d.extend_from_slice(&sealed[sealed.len() - TAG..]);
    d
}

/// HMAC under the records key, its key schedule computed once and cloned per element.
struct ElementKey(Hmac<Sha256>);

impl ElementKey {
    fn new(keys: &Subkeys) -> ElementKey {
        ElementKey(
            <Hmac<Sha256> as Mac>::new_from_slice(keys.records.expose_secret())
                .expect("HMAC takes any key length"),
        )
    }

    /// The keyed, never-stored element of one head: the same bytes as
    /// `hmac_parts(records, ["keep/v2/head", vault id, secret id, lookup, version, digest])`.
    fn element(&self, vault_id: &[u8], lookup: &[u8], head: &HeadRow) -> [u8; 32] {
        let mut mac = self.0.clone();
        for part in [
            b"keep/v2/head".as_slice(),
            vault_id,
            &head.secret_id.to_be_bytes(),
            lookup,
            &head.version.to_be_bytes(),
            &head.digest,
        ] {
            mac.update(&(part.len() as u32).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

fn xor(into: &mut [u8; 32], e: &[u8; 32]) {
    into.iter_mut().zip(e).for_each(|(a, b)| *a ^= b);
}

/// The manifest: how many secrets exist, each bucket's XOR of head elements, and which write made it.
#[derive(Clone, PartialEq, Eq)]
pub struct Manifest {
    pub count: u64,
    buckets: Vec<[u8; 32]>,
    /// How many write transactions the vault has had (0 for a format-4 manifest not yet rewritten).
    pub generation: u64,
}

/// A manifest older than the newest one this account has seen: the file was put back.
fn rolled_back(vault_id: &[u8], generation: u64, floor: u64) -> Error {
    let record = crate::audit::generation::path(vault_id)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "the state folder".into());
    Error::Integrity(format!(
        "the vault file is older than the newest state of it this account has seen: its manifest \
         is from write {generation}, but write {floor} was recorded outside the file ({record}). \
         The vault, or some of its secrets, was put back from an older copy. If you restored that \
         copy yourself, remove {record} to accept it; otherwise restore the vault from a backup"
    ))
}

fn failed(what: impl std::fmt::Display) -> Error {
    Error::Integrity(format!(
        "{what}. A record was deleted, replayed from an older copy of the file, or edited; \
         `keep verify` checks the whole vault. Restore the vault from a backup"
    ))
}

impl Manifest {
    /// The manifest of a vault with no secrets.
    pub fn empty() -> Manifest {
        Manifest {
            count: 0,
            buckets: vec![[0u8; 32]; BUCKETS],
            generation: 0,
        }
    }

    fn body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(LEN);
        out.extend_from_slice(&self.count.to_be_bytes());
        for b in &self.buckets {
            out.extend_from_slice(b);
        }
        out.extend_from_slice(&self.generation.to_be_bytes());
        out
    }

    /// The MAC's input. Format 5 has its own label, so a format-4 manifest (no generation) can
    /// never be read as a format-5 one or the other way round.
    fn mac_parts<'a>(vault_id: &'a [u8], body: &'a [u8], format4: bool) -> [&'a [u8]; 3] {
        let label: &[u8] = if format4 {
            b"keep/v2/manifest"
        } else {
            b"keep/v3/manifest"
        };
        [label, vault_id, body]
    }

    /// Read and authenticate the manifest, and refuse one older than `floor`, the newest
    /// generation recorded outside the file (0 when none is).
    pub fn load(
        conn: &Connection,
        keys: &Subkeys,
        vault_id: &[u8],
        floor: u64,
    ) -> Result<Manifest> {
        let raw = store::meta(conn, META_KEY)?
            .ok_or_else(|| failed("the vault's manifest (the list of its secrets) is missing"))?;
        let format4 = match raw.len() {
            LEN => false,
            LEN_FORMAT4 => true,
            _ => return Err(failed("the vault's manifest is damaged")),
        };
        let (body, tag) = raw.split_at(raw.len() - 32);
        if !hmac_parts_verify(
            keys.records.expose_secret(),
            &Self::mac_parts(vault_id, body, format4),
            tag,
        ) {
            return Err(failed("the vault's manifest failed authentication"));
        }
        let count = u64::from_be_bytes(body[..8].try_into().expect("8 bytes"));
        let buckets = body[8..8 + BUCKETS * 32]
            .chunks_exact(32)
            .map(|c| c.try_into().expect("32 bytes"))
            .collect();
        let generation = match format4 {
            true => 0,
            false => u64::from_be_bytes(body[8 + BUCKETS * 32..].try_into().expect("8 bytes")),
        };
        if generation < floor {
            return Err(rolled_back(vault_id, generation, floor));
        }
        Ok(Manifest {
            count,
            buckets,
            generation,
        })
    }

    /// Write the manifest as the next generation, under a new MAC. Returns that generation, which
    /// the caller records outside the file once the transaction has committed.
    pub fn store(&mut self, conn: &Connection, keys: &Subkeys, vault_id: &[u8]) -> Result<u64> {
        self.generation += 1;
        let mut raw = self.body();
        let tag = hmac_parts(
            keys.records.expose_secret(),
            &Self::mac_parts(vault_id, &raw, false),
        );
        raw.extend_from_slice(&tag);
        store::set_meta(conn, META_KEY, &raw)?;
        Ok(self.generation)
    }

    /// Replace `old` (absent for a new secret) by `new` in the manifest.
    pub fn update(
        &mut self,
        keys: &Subkeys,
        vault_id: &[u8],
        lookup: &[u8],
        old: Option<&HeadRow>,
        new: &HeadRow,
    ) {
        self.update_with(&ElementKey::new(keys), vault_id, lookup, old, new);
    }

    fn update_with(
        &mut self,
        key: &ElementKey,
        vault_id: &[u8],
        lookup: &[u8],
        old: Option<&HeadRow>,
        new: &HeadRow,
    ) {
        let b = &mut self.buckets[bucket_of(new.secret_id) as usize];
        match old {
            Some(old) => xor(b, &key.element(vault_id, lookup, old)),
            None => self.count += 1,
        }
        xor(b, &key.element(vault_id, lookup, new));
    }

    /// Check one bucket's heads against the manifest (what a single read costs).
    pub fn check_bucket(
        &self,
        conn: &Connection,
        keys: &Subkeys,
        vault_id: &[u8],
        bucket: i64,
    ) -> Result<()> {
        let key = ElementKey::new(keys);
        let mut acc = [0u8; 32];
        for (head, lookup) in store::bucket_heads(conn, bucket)? {
            let lookup = lookup.ok_or_else(|| {
                failed(format!(
                    "secret record #{} has a head but no secret row",
                    head.secret_id
                ))
            })?;
            xor(&mut acc, &key.element(vault_id, &lookup, &head));
        }
        if acc != self.buckets[bucket as usize] {
            return Err(failed(format!(
                "the heads of group {bucket} of the vault's secrets do not match its manifest: a \
                 secret's newest version was rolled back, or a secret was removed or added"
            )));
        }
        Ok(())
    }

    /// The manifest the given heads would have, keyed by their secrets' lookup tags.
    pub fn compute<'a>(
        keys: &Subkeys,
        vault_id: &[u8],
        heads: impl IntoIterator<Item = (&'a [u8], &'a HeadRow)>,
    ) -> Manifest {
        let key = ElementKey::new(keys);
        let mut m = Manifest::empty();
        for (lookup, head) in heads {
            m.update_with(&key, vault_id, lookup, None, head);
        }
        m
    }

    /// Compare against a manifest computed from every head, naming the buckets that differ.
    pub fn check_all(&self, computed: &Manifest, secrets: u64) -> Result<()> {
        let bad: BTreeSet<usize> = (0..BUCKETS)
            .filter(|&i| self.buckets[i] != computed.buckets[i])
            .collect();
        if self.count != secrets || self.count != computed.count {
            return Err(failed(format!(
                "the vault's manifest lists {} secrets but the file holds {secrets} (with {} \
                 heads): a secret was removed or added",
                self.count, computed.count
            )));
        }
        if !bad.is_empty() {
            let groups: Vec<String> = bad.iter().map(|b| b.to_string()).collect();
            return Err(failed(format!(
                "the heads of group(s) {} of the vault's secrets do not match its manifest: a \
                 secret's newest version was rolled back, or a secret was replaced",
                groups.join(", ")
            )));
        }
        Ok(())
    }
}

/// Every secret's row, head and newest sealed version (`store::all_latest`), after checking every
/// head against the authenticated manifest (not older than `floor`): a deleted secret or a
/// rolled-back head fails here, naming what is wrong, instead of silently leaving a name out.
/// Returns the manifest too, for a caller that goes on to change the heads.
#[allow(clippy::type_complexity)]
pub fn load_checked_heads(
    conn: &Connection,
    keys: &Subkeys,
    vault_id: &[u8],
    floor: u64,
) -> Result<(Manifest, Vec<(store::SecretRow, HeadRow, Option<Vec<u8>>)>)> {
    let manifest = Manifest::load(conn, keys, vault_id, floor)?;
    let rows = store::all_latest(conn)?;
    let computed = Manifest::compute(
        keys,
        vault_id,
        rows.iter()
            .map(|(row, head, _)| (row.lookup.as_slice(), head)),
    );
    manifest.check_all(&computed, store::count(conn, "secrets")?)?;
    Ok((manifest, rows))
}

/// Build heads and a manifest from the rows as they are (the format-4 upgrade of an older vault,
/// whose newest versions were never authenticated): each secret's highest version becomes its head.
pub fn rebuild(conn: &Connection, keys: &Subkeys, vault_id: &[u8]) -> Result<()> {
    let mut lookups: HashMap<i64, Vec<u8>> = HashMap::new();
    let mut heads = Vec::new();
    for row in store::all_secrets(conn)? {
        if let Some(v) = store::latest_version(conn, row.id)? {
            let head = HeadRow {
                secret_id: row.id,
                version: v.version,
                digest: digest(&v.sealed),
            };
            store::put_head(conn, &head)?;
            heads.push(head);
        }
        lookups.insert(row.id, row.lookup);
    }
    let mut m = Manifest::compute(
        keys,
        vault_id,
        heads.iter().map(|h| (lookups[&h.secret_id].as_slice(), h)),
    );
    m.store(conn, keys, vault_id).map(drop)
}
