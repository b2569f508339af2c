//! The redactor alone (no process, no vault): compiling the patterns of one 64 KiB multiline value
//! (kubeconfig-like) and streaming 8 MiB of output that holds it through in 16 KiB reads, as
//! `exec --redact` does. The whole-process figures (time and peak RSS) come from benches/redact.sh.
//!
//! Run: `cargo bench --bench redact`

use std::time::Duration;

use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use keep::using::redact::Patterns;

/// A deterministic kubeconfig-like value of `len` bytes: YAML keys and distinct base64 rows.
fn value(len: usize) -> Vec<u8> {
    let mut text = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    let mut i = 0u32;
    while text.len() < len {
        let row: Vec<u8> = (0..450u32)
            .map(|k| {
                (k.wrapping_mul(2654435761)
                    .wrapping_add(i.wrapping_mul(40503))
                    >> 7) as u8
            })
            .collect();
        text.push_str(&format!(
            "- cluster:\n    certificate-authority-data: {}\n    server: https://10.0.{}.1:6443\n",
            base64::engine::general_purpose::STANDARD.encode(row),
            i % 250
        ));
        i += 1;
    }
    text.truncate(len);
    text.into_bytes()
}

fn output(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let filler: String = (0..20_000)
        .map(|i| format!("log line {i}: request ok in {} ms\n", i % 97))
        .collect();
    while out.len() < 8 << 20 {
        out.extend_from_slice(&filler.as_bytes()[..512 * 1024]);
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    out
}

fn bench(c: &mut Criterion) {
    let v = value(64 * 1024);
    let out = output(&v);
    let mut g = c.benchmark_group("redact");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("patterns of a 64 KiB value", |b| {
        b.iter(|| Patterns::new([("KUBECONFIG", &v[..])]))
    });
    let patterns = Patterns::new([("KUBECONFIG", &v[..])]);
    g.throughput(Throughput::Bytes(out.len() as u64));
    g.bench_function("stream 8 MiB through them (16 KiB reads)", |b| {
        b.iter(|| {
            let mut r = patterns.stream();
            let mut sink = Vec::with_capacity(32 * 1024);
            let mut written = 0;
            for chunk in out.chunks(16 * 1024) {
                r.push(chunk, &mut sink);
                written += sink.len();
                sink.clear();
            }
            r.finish(&mut sink);
            written + sink.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
