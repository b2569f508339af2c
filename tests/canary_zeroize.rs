//! Zeroization, measured: this test binary's global allocator looks inside every heap block as it is
//! freed (the memory is still valid in `dealloc`) and counts the blocks that still hold a secret.
//! `realloc` is modelled as "allocate, copy, free the old block", which is what the allocator is
//! allowed to do: a growing `Vec` that held a secret leaves its old buffer behind unless it was
//! wiped, and the test must see that even when glibc happened to grow it in place.
//!
//! Each phase drives a library path with known secrets (a vault value, a passphrase, a recovery code,
//! the master key and subkeys, redaction patterns) and must free no block holding 16 consecutive
//! bytes of any of them (the first 16 and the last 16 of each are searched, so a partial copy left by
//! a growing buffer is found too). What this cannot see (stack copies, registers, SQLite's own
//! allocator, the kernel's buffers) is listed in SECURITY.md.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use keep::crypto::MasterKey;
use keep::slots::passphrase::{KdfParams, Passphrase};
use keep::slots::recovery::RecoveryCode;
use keep::slots::SlotUnwrapper;
use keep::{Name, Scope, SecretValue, Vault};
use secrecy::{ExposeSecret, SecretString};

const VALUE: &str = "CANARY-7f3a9c-do-not-leak-5be1-zeroize";
const PASSPHRASE: &str = "PASSPHRASE-canary-91d2e7-never-in-the-heap";

const PIECE: usize = 16;
const MAX_NEEDLES: usize = 32;

#[derive(Clone, Copy)]
struct Needle {
    bytes: [u8; PIECE],
    label: &'static str,
}

static NEEDLES: Mutex<([Needle; MAX_NEEDLES], usize)> = Mutex::new((
    [Needle {
        bytes: [0; PIECE],
        label: "",
    }; MAX_NEEDLES],
    0,
));
static ENABLED: AtomicBool = AtomicBool::new(false);
static HITS: AtomicUsize = AtomicUsize::new(0);
static SCANNED: AtomicUsize = AtomicUsize::new(0);

/// Where a hit was found: the needle, the block size, whether by realloc, and the stack.
struct Hit {
    label: &'static str,
    size: usize,
    realloc: bool,
    trace: std::backtrace::Backtrace,
}

static HIT_LOG: Mutex<Vec<Hit>> = Mutex::new(Vec::new());

thread_local! {
    /// Set while the scanner itself runs (recording a hit allocates), so it does not scan itself.
    static IN_SCAN: Cell<bool> = const { Cell::new(false) };
}

/// Register the first and last 16 bytes of `secret` (which must not live on the heap of a phase).
fn watch(label: &'static str, secret: &[u8]) {
    assert!(secret.len() >= PIECE, "{label} is too short to watch");
    let mut n = NEEDLES.lock().unwrap();
    for piece in [&secret[..PIECE], &secret[secret.len() - PIECE..]] {
        let i = n.1;
        assert!(i < MAX_NEEDLES);
        n.0[i].bytes.copy_from_slice(piece);
        n.0[i].label = label;
        n.1 += 1;
    }
}

fn clear_watch() {
    let mut n = NEEDLES.lock().unwrap();
    n.1 = 0;
    for needle in n.0.iter_mut() {
        needle.bytes = [0; PIECE];
    }
}

/// Look for every needle in the block about to be freed.
fn scan(ptr: *mut u8, size: usize, realloc: bool) {
    if !ENABLED.load(Ordering::Relaxed) || size < PIECE {
        return;
    }
    let entered = IN_SCAN
        .try_with(|c| {
            if c.get() {
                false
            } else {
                c.set(true);
                true
            }
        })
        .unwrap_or(false);
    if !entered {
        return;
    }
    // SAFETY: the allocator hands us a block it still owns; it is valid for `size` bytes until we
    // return it.
    let block = unsafe { std::slice::from_raw_parts(ptr, size) };
    SCANNED.fetch_add(1, Ordering::Relaxed);
    let found = {
        let n = NEEDLES.lock().unwrap();
        n.0[..n.1]
            .iter()
            .find(|needle| memchr::memmem::find(block, &needle.bytes).is_some())
            .map(|needle| needle.label)
    };
    if let Some(label) = found {
        HITS.fetch_add(1, Ordering::Relaxed);
        let trace = std::backtrace::Backtrace::force_capture();
        HIT_LOG.lock().unwrap().push(Hit {
            label,
            size,
            realloc,
            trace,
        });
    }
    let _ = IN_SCAN.try_with(|c| c.set(false));
}

struct ScanOnFree;

unsafe impl GlobalAlloc for ScanOnFree {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        scan(ptr, layout.size(), false);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Always move: the old block is freed with whatever it held, as a real realloc may do.
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let new = System.alloc(new_layout);
        if !new.is_null() {
            std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            scan(ptr, layout.size(), true);
            System.dealloc(ptr, layout);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: ScanOnFree = ScanOnFree;

/// Code keep cannot change that frees a secret unwiped, each with where SECURITY.md says so: the
/// `age` crate's STREAM keeps each 64 KiB plaintext chunk in a plain `Vec` (export and import).
/// A hit with one of these frames is counted and reported, not failed; every other hit fails.
const OUT_OF_REACH: &[&str] = &["age::primitives::stream::"];

static OUT_OF_REACH_HITS: AtomicUsize = AtomicUsize::new(0);

/// Run `f` with the scanner on; return the hits it caused (minus the out-of-reach ones).
fn phase(name: &str, f: impl FnOnce()) -> Vec<String> {
    HITS.store(0, Ordering::SeqCst);
    HIT_LOG.lock().unwrap().clear();
    ENABLED.store(true, Ordering::SeqCst);
    f();
    ENABLED.store(false, Ordering::SeqCst);
    clear_watch();
    let log = std::mem::take(&mut *HIT_LOG.lock().unwrap());
    log.into_iter()
        .filter(|h| {
            let trace = h.trace.to_string();
            let known = OUT_OF_REACH.iter().any(|f| trace.contains(f));
            if known {
                OUT_OF_REACH_HITS.fetch_add(1, Ordering::Relaxed);
                eprintln!(
                    "[{name}] out of reach: a {}-byte block held {}",
                    h.size, h.label
                );
            }
            !known
        })
        .map(|h| {
            // The frames in keep (and the libraries it calls) say who owned the block.
            let trace = h.trace.to_string();
            let frames: Vec<&str> = trace
                .lines()
                .map(str::trim)
                .filter(|l| l.contains(": ") && !l.starts_with("at "))
                .filter(|l| {
                    ![
                        "canary_zeroize::",
                        "__rust",
                        "core::",
                        "std::",
                        "alloc::alloc",
                        "<canary",
                    ]
                    .iter()
                    .any(|skip| l.contains(skip))
                })
                .take(12)
                .collect();
            format!(
                "[{name}] a {}-byte block freed by {} still held {}, from:\n    {}",
                h.size,
                if h.realloc { "realloc" } else { "dealloc" },
                h.label,
                frames.join("\n    ")
            )
        })
        .collect()
}

fn scope() -> Scope {
    Scope::new("app", "dev").unwrap()
}

fn passphrase() -> Passphrase {
    Passphrase::new(
        SecretString::from(PASSPHRASE),
        KdfParams {
            m_kib: 1024,
            t: 1,
            p: 1,
        },
    )
}

#[test]
fn secret_buffers_are_wiped_before_they_are_freed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.db");
    let address = scope().address(Name::new("API_KEY").unwrap());
    let mut hits = Vec::new();

    // The control: a plain String holding the value, freed unwiped, must be caught. Without this the
    // zero counts below could come from a scanner that sees nothing.
    hits.extend(phase("control", || {
        watch("the control value", VALUE.as_bytes());
        let copy = String::from(VALUE);
        drop(std::hint::black_box(copy));
    }));
    assert_eq!(
        hits.len(),
        1,
        "the scanner catches an unwiped String: {hits:?}"
    );
    hits.clear();
    let grow = phase("control-realloc", || {
        watch("the control value", VALUE.as_bytes());
        let mut v = zeroize::Zeroizing::new(Vec::new());
        for b in VALUE.bytes() {
            v.push(b);
        }
        drop(std::hint::black_box(v));
    });
    assert!(
        !grow.is_empty(),
        "the scanner catches a growing Zeroizing<Vec> (its old buffers are not wiped)"
    );

    hits.extend(phase("vault create, set, get, history", || {
        watch("the value", VALUE.as_bytes());
        watch("the passphrase", PASSPHRASE.as_bytes());
        let mut vault = Vault::create(&path, &passphrase(), KdfParams::default()).unwrap();
        // The master key and every subkey (the library gives out their memory only to be locked).
        for key in vault.key_memory() {
            watch("a vault key", key);
        }
        vault.set(&address, &SecretValue::from(VALUE)).unwrap();
        vault.set(&address, &SecretValue::from(VALUE)).unwrap();
        let got = vault.get(&address).unwrap();
        assert_eq!(got.expose(), VALUE.as_bytes());
        let (_, current) = vault.current(&address).unwrap();
        assert_eq!(current.len(), VALUE.len());
        assert_eq!(vault.history(&address).unwrap().len(), 2);
        assert_eq!(vault.values(&scope()).unwrap().len(), 1);
        assert_eq!(vault.all_values().unwrap().len(), 1);
        vault.get_version(&address, 1).unwrap();
    }));

    hits.extend(phase("open with the passphrase unwrapper", || {
        watch("the value", VALUE.as_bytes());
        watch("the passphrase", PASSPHRASE.as_bytes());
        let unwrappers: Vec<Box<dyn SlotUnwrapper>> = vec![Box::new(passphrase())];
        let mut vault = Vault::open_with(&path, &unwrappers).unwrap();
        for key in vault.key_memory() {
            watch("a vault key", key);
        }
        assert_eq!(vault.get(&address).unwrap().expose(), VALUE.as_bytes());
    }));

    hits.extend(phase("session cache: store, then open from it", || {
        watch("the value", VALUE.as_bytes());
        let unwrappers: Vec<Box<dyn SlotUnwrapper>> = vec![Box::new(passphrase())];
        let vault = Vault::open_with(&path, &unwrappers).unwrap();
        for key in vault.key_memory() {
            watch("a vault key", key);
        }
        vault
            .cache_in_session(std::time::Duration::from_secs(60))
            .unwrap();
        drop(vault);
        let mut cached = Vault::open_cached(&path)
            .unwrap()
            .expect("the key is in the session keyring");
        assert_eq!(cached.get(&address).unwrap().expose(), VALUE.as_bytes());
        drop(cached);
        assert!(
            keep::vault::lock(&path).unwrap(),
            "the cached key was removed"
        );
    }));

    hits.extend(phase("age export and import", || {
        use keep::backup::{export_age, import_age, Selection};
        watch("the value", VALUE.as_bytes());
        let me = age::x25519::Identity::generate();
        let unwrappers: Vec<Box<dyn SlotUnwrapper>> = vec![Box::new(passphrase())];
        let mut vault = Vault::open_with(&path, &unwrappers).unwrap();
        let (file, exported) = export_age(
            &mut vault,
            &Selection::Scope(scope()),
            &[me.to_public()],
            true,
        )
        .unwrap();
        assert_eq!(exported.len(), 1);
        let ids: Vec<Box<dyn age::Identity>> = vec![Box::new(me)];
        let report = import_age(&mut vault, &file, &ids).unwrap();
        assert_eq!(report.unchanged, 1);
    }));

    // Measured, not enforced: the dotenv and YAML parsers (dotenvy, unsafe-libyaml under
    // serde_yaml_ng) keep values in their own unwiped buffers, and the input is a plaintext file the user already holds. The count
    // is printed for SECURITY.md; fixing it means parsers of keep's own.
    let import_hits = phase("import: dotenv, JSON and YAML files", || {
        watch("the value", VALUE.as_bytes());
        for (origin, head, tail) in [
            ("in.env", "API_KEY=\"", "\"\nOTHER=1\n"),
            ("in.json", "{\"API_KEY\": \"", "\", \"OTHER\": \"1\"}"),
            ("in.yaml", "API_KEY: \"", "\"\nOTHER: \"1\"\n"),
        ] {
            let mut file = zeroize::Zeroizing::new(Vec::with_capacity(128));
            file.extend_from_slice(head.as_bytes());
            file.extend_from_slice(VALUE.as_bytes());
            file.extend_from_slice(tail.as_bytes());
            let parsed = keep::using::import::parse(&file, origin).unwrap();
            assert_eq!(parsed.entries.len(), 2, "{origin}");
        }
    });

    hits.extend(phase("master key and subkeys", || {
        let mut raw = zeroize::Zeroizing::new(vec![0u8; 32]);
        getrandom::fill(&mut raw).unwrap();
        watch("the master key", &raw);
        let master = MasterKey::from_bytes(&mut raw).unwrap();
        let keys = master.subkeys(b"vault-id-of-16-bytes");
        watch("the check subkey", keys.check.expose_secret());
        watch("the sync subkey", keys.sync.expose_secret());
        drop(keys);
        drop(master);
    }));

    let pass_file = dir.path().join("pass");
    std::fs::write(&pass_file, format!("{PASSPHRASE}\n")).unwrap();
    hits.extend(phase("passphrase from a file", || {
        watch("the passphrase", PASSPHRASE.as_bytes());
        let p = keep::session::credentials::read_secret_file(&pass_file, "passphrase").unwrap();
        assert_eq!(p.expose_secret(), PASSPHRASE);
    }));

    hits.extend(phase("recovery code: generate, display, parse", || {
        let code = RecoveryCode::generate();
        let shown = code.display();
        let undashed: zeroize::Zeroizing<Vec<u8>> =
            zeroize::Zeroizing::new(shown.bytes().filter(|b| *b != b'-').collect());
        // Watch the code's text from a stack copy (the needle table copies it too).
        let mut text = [0u8; 32];
        text.copy_from_slice(&undashed[..32]);
        drop(undashed);
        watch("the recovery code", &text);
        let parsed = RecoveryCode::parse(&SecretString::from(shown.as_str())).unwrap();
        assert_eq!(*parsed.display(), *shown);
        let paper = keep::slots::recovery::paper(&code, std::path::Path::new("/v"));
        assert!(paper.contains(shown.as_str()));
        zeroize::Zeroize::zeroize(&mut text);
    }));

    hits.extend(phase("redaction patterns and streams", || {
        watch("the value", VALUE.as_bytes());
        let value = SecretValue::from(VALUE);
        let patterns = keep::using::redact::Patterns::new([("API_KEY", value.expose())]);
        let mut out = Vec::new();
        let mut stream = patterns.stream();
        for chunk in [
            &b"before "[..],
            &VALUE.as_bytes()[..10],
            &VALUE.as_bytes()[10..],
            b" after",
        ] {
            stream.push(chunk, &mut out);
        }
        stream.finish(&mut out);
        assert!(!out.windows(VALUE.len()).any(|w| w == VALUE.as_bytes()));
        assert_eq!(
            String::from_utf8_lossy(&out),
            "before [REDACTED:API_KEY] after"
        );
    }));

    hits.extend(phase("reading a value from stdin (keep set)", || {
        watch("the value", VALUE.as_bytes());
        // A reader that hands the value over in small pieces, as a pipe does, many times over so the
        // buffer has to grow.
        struct Trickle(usize);
        impl std::io::Read for Trickle {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Ok(0);
                }
                self.0 -= 1;
                let n = VALUE.len().min(buf.len());
                buf[..n].copy_from_slice(&VALUE.as_bytes()[..n]);
                Ok(n)
            }
        }
        let v = SecretValue::read_from(Trickle(40), true).unwrap();
        assert_eq!(v.len(), VALUE.len() * 40);
        // A Vec with spare capacity handed to SecretValue::new.
        let mut spare = Vec::with_capacity(VALUE.len() * 2);
        spare.extend_from_slice(VALUE.as_bytes());
        let v = SecretValue::new(spare);
        assert_eq!(v.expose(), VALUE.as_bytes());
    }));

    hits.extend(phase(
        "rendering: keep env formats and inject templates",
        || {
            use keep::using::formats::{render, Format, Options};
            watch("the value", VALUE.as_bytes());
            let pairs = vec![
                (Name::new("API_KEY").unwrap(), SecretValue::from(VALUE)),
                (Name::new("OTHER").unwrap(), SecretValue::from(VALUE)),
            ];
            let options = Options {
                k8s_name: "app".into(),
                ..Options::default()
            };
            for format in [
                Format::Dotenv,
                Format::Shell,
                Format::Json,
                Format::Yaml,
                Format::Docker,
                Format::Github,
            ] {
                let text = render(format, &pairs, &options).unwrap();
                assert!(text.contains(VALUE), "{format:?}");
            }
            let manifest = render(Format::K8s, &pairs, &options).unwrap();
            assert!(manifest.contains("kind: Secret"));
            let template = "a={{ keep://app/dev/API_KEY }} b={{ keep://app/dev/API_KEY }}\n";
            let text =
                keep::using::template::render(template, |_| Ok(SecretValue::from(VALUE))).unwrap();
            assert_eq!(text.matches(VALUE).count(), 2);
        },
    ));

    hits.extend(phase("exec: the child's environment", || {
        watch("the value", VALUE.as_bytes());
        let pairs = vec![(Name::new("API_KEY").unwrap(), SecretValue::from(VALUE))];
        let mut env = keep::using::exec::Environment::new(true);
        env.inject(&pairs).unwrap();
        assert_eq!(env.get("API_KEY").map(|v| v.len()), Some(VALUE.len()));
    }));

    hits.extend(phase("scan: vault values as needles", || {
        use keep::scan::detect::{Detector, Origin};
        watch("the value", VALUE.as_bytes());
        let unwrappers: Vec<Box<dyn SlotUnwrapper>> = vec![Box::new(passphrase())];
        let mut vault = Vault::open_with(&path, &unwrappers).unwrap();
        let needles = keep::scan::vault_needles(&mut vault).unwrap();
        assert_eq!(needles.len(), 1);
        let detector =
            Detector::new(keep::scan::rules::RuleSet::builtin().unwrap(), needles).unwrap();
        let mut line = zeroize::Zeroizing::new(Vec::with_capacity(64));
        line.extend_from_slice(b"token = ");
        line.extend_from_slice(VALUE.as_bytes());
        line.push(b'\n');
        let mut scratch = detector.scratch();
        let mut found = Vec::new();
        let origin = Origin {
            path: "config.yml",
            commit: None,
            author: None,
            line_map: None,
        };
        detector.scan(&line, &origin, &mut scratch, &mut found);
        assert!(
            found.iter().any(|f| f.secret_name.is_some()),
            "the vault value was found"
        );
    }));

    eprintln!(
        "canary_zeroize: {} blocks scanned while phases ran, {} hits, {} out of reach (age STREAM), \
         {} in import's parsers (measured, not enforced)",
        SCANNED.load(Ordering::Relaxed),
        hits.len(),
        OUT_OF_REACH_HITS.load(Ordering::Relaxed),
        import_hits.len()
    );
    assert!(
        hits.is_empty(),
        "{} freed block(s) still held a secret:\n{}",
        hits.len(),
        hits.join("\n\n")
    );
}
