//! Feeds `keep inject`'s template code (`keep::using::template::placeholders` and `render`) arbitrary
//! text, rendering with a resolver that answers every reference with a value derived from its address.
//!
//! Beyond "no panic" it asserts:
//! - placeholders are in order, do not overlap, lie inside the template on `{{`/`}}` boundaries, and
//!   report the line their `{{` is on;
//! - `render` succeeds exactly when `placeholders` does, and its output is the template with each
//!   placeholder's byte range replaced by its value: text outside placeholders is passed through
//!   byte for byte (no other `{{ ... }}` is touched);
//! - a resolver's not-found error becomes a not-found error (exit 3), not another kind.
#![no_main]

use keep::using::template::{placeholders, render};
use keep::{Error, SecretValue};
use libfuzzer_sys::fuzz_target;

fn value_of(address: &keep::Address) -> String {
    format!("[{address}]")
}

fuzz_target!(|data: &[u8]| {
    let Ok(template) = std::str::from_utf8(data) else {
        return;
    };
    let found = placeholders(template);
    let rendered = render(template, |a| Ok(SecretValue::from(value_of(a))));
    match (&found, &rendered) {
        (Ok(ps), Ok(out)) => {
            let mut expected = String::new();
            let mut pos = 0;
            for p in ps {
                assert!(pos <= p.start && p.start < p.end && p.end <= template.len());
                assert!(template[p.start..].starts_with("{{"));
                assert!(template[..p.end].ends_with("}}"));
                assert_eq!(p.line, template[..p.start].matches('\n').count() + 1);
                expected.push_str(&template[pos..p.start]);
                expected.push_str(&value_of(&p.address));
                pos = p.end;
            }
            expected.push_str(&template[pos..]);
            assert_eq!(out.as_str(), expected);
        }
        (Err(a), Err(b)) => {
            assert!(matches!(a, Error::Usage(_)), "{a:?}");
            assert!(matches!(b, Error::Usage(_)), "{b:?}");
        }
        _ => panic!("placeholders and render disagree"),
    }
    if matches!(&found, Ok(ps) if !ps.is_empty()) {
        let missing = render(template, |_| Err(Error::NotFound("nope".into())));
        assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    }
});
