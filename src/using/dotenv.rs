//! The dotenv reader behind `keep import` and `exec --env-file`.
//!
//! It reads the syntax dotenv files use (and `dotenvy` accepted before): `KEY=value`, an optional
//! `export ` prefix, `#` comments (at the start of a line, or after whitespace behind a value),
//! single quotes (literal, may span lines), double quotes (may span lines; escapes `\\ \" \' \$ \n`
//! and `\ `), unquoted values (the same escapes, ending at whitespace), and quoted parts glued
//! together (`A="x"'y'z` is `xyz`).
//!
//! What it does differently, and why it is not `dotenvy`: a `$` is kept as written. dotenvy 0.15
//! always expands `$NAME` and `${NAME}`, and looks the name up in the *process environment* before
//! the file, with no way to turn that off: a password `pa$word$HOME-x` became `pa/home/you-x`, and
//! `X=${AWS_SECRET_ACCESS_KEY}` copied one of keep's own variables into the vault. With
//! [`Expand::File`] (`import --expand`) references are expanded, but only from keys defined earlier in
//! the same file; a name the file does not define is an error, never an empty string and never a
//! lookup in keep's environment.
//!
//! Every entry carries the line it starts on, found in the same single pass, so callers can name the
//! line of a bad key without searching the file again. Errors name lines, never text (a line may hold
//! a value). Values are built in buffers that are wiped when they grow and when they are dropped.

use std::collections::HashMap;

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::value::SecretValue;

/// Whether `$NAME` references are expanded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Expand {
    /// Every `$` is kept as written (the default).
    #[default]
    Literal,
    /// `$NAME` and `${NAME}` outside single quotes are replaced by the value of `NAME` as defined
    /// earlier in the same file; an undefined name is an error. `\$` stays a literal `$`.
    File,
}

/// One `KEY=value` entry.
pub struct Entry {
    /// The key as written (not yet checked as a secret name).
    pub key: String,
    pub value: SecretValue,
    /// The 1-based line the entry starts on.
    pub line: usize,
}

/// What [`parse`] found.
#[derive(Default)]
pub struct Parsed {
    /// Entries in file order (a repeated key appears each time).
    pub entries: Vec<Entry>,
    /// Lines where an unquoted or double-quoted `$NAME` was kept literally (with [`Expand::Literal`]),
    /// so a caller can point out `--expand` to someone who meant a reference.
    pub literal_dollar_lines: Vec<usize>,
}

const SYNTAX: &str =
    "not valid dotenv syntax (check quotes and escapes; inside double quotes only \
                      \\\\ \\\" \\$ \\n and \\' are escapes)";

/// Parse dotenv `text`; `origin` names the file in errors.
pub fn parse(text: &str, origin: &str, expand: Expand) -> Result<Parsed> {
    let mut p = Parser {
        b: text.as_bytes(),
        i: 0,
        line: 1,
        origin,
        expand,
        defined: HashMap::new(),
        literal_dollar_lines: Vec::new(),
    };
    let mut entries: Vec<Entry> = Vec::new();
    loop {
        p.skip_blank();
        let Some(c) = p.peek() else { break };
        if c == b'#' {
            p.skip_to_eol();
            continue;
        }
        let line = p.line;
        let mut key = p.key()?;
        p.skip_inline_ws();
        if key == "export" && p.peek() != Some(b'=') {
            key = p.key()?;
            p.skip_inline_ws();
        }
        if p.peek() != Some(b'=') {
            return Err(p.error(p.line));
        }
        p.i += 1;
        p.skip_inline_ws();
        let value = p.value(&entries)?;
        if expand == Expand::File {
            p.defined.insert(key.clone(), entries.len());
        }
        entries.push(Entry { key, value, line });
    }
    Ok(Parsed {
        entries,
        literal_dollar_lines: p.literal_dollar_lines,
    })
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    line: usize,
    origin: &'a str,
    expand: Expand,
    /// With [`Expand::File`]: each key's latest entry so far.
    defined: HashMap<String, usize>,
    literal_dollar_lines: Vec<usize>,
}

/// Quoting state inside a value.
#[derive(PartialEq)]
enum Quote {
    None,
    Single,
    Double,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Consume one byte, counting lines.
    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        if c == b'\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn error(&self, line: usize) -> Error {
        Error::Usage(format!("{}: line {line}: {SYNTAX}", self.origin))
    }

    fn skip_blank(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.bump();
        }
    }

    fn skip_inline_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r')) {
            self.i += 1;
        }
    }

    fn skip_to_eol(&mut self) {
        match memchr::memchr(b'\n', &self.b[self.i..]) {
            Some(n) => self.i += n,
            None => self.i = self.b.len(),
        }
    }

    /// `[A-Za-z_][A-Za-z0-9_.]*` (dotenv allows `.`; the caller decides whether it is a valid name).
    fn key(&mut self) -> Result<String> {
        let start = self.i;
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => {}
            _ => return Err(self.error(self.line)),
        }
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
        {
            self.i += 1;
        }
        Ok(String::from_utf8(self.b[start..self.i].to_vec()).expect("ASCII"))
    }

    /// The value after `=`, up to the end of its (last) line.
    fn value(&mut self, entries: &[Entry]) -> Result<SecretValue> {
        let start_line = self.line;
        let mut out = Buf::default();
        if self.peek() == Some(b'#') {
            self.skip_to_eol();
            return Ok(out.into_value());
        }
        let mut quote = Quote::None;
        let mut expecting_end = false;
        while let Some(c) = self.peek() {
            if expecting_end {
                match c {
                    b' ' | b'\t' | b'\r' => self.i += 1,
                    b'#' => self.skip_to_eol(),
                    b'\n' => break,
                    _ => return Err(self.error(self.line)),
                }
                continue;
            }
            match quote {
                Quote::Single => {
                    self.bump();
                    if c == b'\'' {
                        quote = Quote::None;
                    } else {
                        out.push(&[c]);
                    }
                }
                Quote::Double => {
                    self.bump();
                    match c {
                        b'"' => quote = Quote::None,
                        b'\\' => self.escape(&mut out)?,
                        b'$' => self.dollar(&mut out, entries)?,
                        _ => out.push(&[c]),
                    }
                }
                Quote::None => {
                    if c == b'\n' {
                        break;
                    }
                    self.i += 1;
                    match c {
                        b'\'' => quote = Quote::Single,
                        b'"' => quote = Quote::Double,
                        b'\\' => self.escape(&mut out)?,
                        b'$' => self.dollar(&mut out, entries)?,
                        b' ' | b'\t' | b'\r' => expecting_end = true,
                        _ => out.push(&[c]),
                    }
                }
            }
        }
        if quote != Quote::None {
            // A quote that is never closed: reported where its entry starts.
            return Err(self.error(start_line));
        }
        Ok(out.into_value())
    }

    /// After a `\`: the escaped character.
    fn escape(&mut self, out: &mut Buf) -> Result<()> {
        let line = self.line;
        match self.bump() {
            Some(c @ (b'\\' | b'\'' | b'"' | b'$' | b' ')) => out.push(&[c]),
            Some(b'n') => out.push(b"\n"),
            _ => return Err(self.error(line)),
        }
        Ok(())
    }

    /// After an unescaped `$` outside single quotes.
    fn dollar(&mut self, out: &mut Buf, entries: &[Entry]) -> Result<()> {
        let is_name = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
        let braced = self.peek() == Some(b'{');
        let from = self.i + usize::from(braced);
        let mut end = from;
        while end < self.b.len() && is_name(self.b[end]) {
            end += 1;
        }
        let closed = braced && self.b.get(end) == Some(&b'}');
        let reference = (end > from && (!braced || closed)).then(|| &self.b[from..end]);
        match (self.expand, reference) {
            (Expand::File, Some(name)) => {
                let name = std::str::from_utf8(name).expect("ASCII");
                let Some(&at) = self.defined.get(name) else {
                    return Err(Error::Usage(format!(
                        "{}: line {}: --expand: ${name} is not defined earlier in this file (only \
                         the file's own keys are expanded, never keep's environment; write \\$ for \
                         a literal $)",
                        self.origin, self.line
                    )));
                };
                out.push(entries[at].value.expose());
                self.i = end + usize::from(braced);
            }
            (Expand::File, None) if braced => return Err(self.error(self.line)),
            (Expand::Literal, Some(_)) => {
                if self.literal_dollar_lines.last() != Some(&self.line) {
                    self.literal_dollar_lines.push(self.line);
                }
                out.push(b"$");
            }
            _ => out.push(b"$"),
        }
        Ok(())
    }
}

/// A value being built: wiped when it grows and when it is dropped.
#[derive(Default)]
struct Buf(Zeroizing<Vec<u8>>);

impl Buf {
    fn push(&mut self, bytes: &[u8]) {
        let need = self.0.len() + bytes.len();
        if need > self.0.capacity() {
            let mut bigger =
                Zeroizing::new(Vec::with_capacity(need.max(self.0.capacity() * 2).max(32)));
            bigger.extend_from_slice(&self.0);
            self.0 = bigger;
        }
        self.0.extend_from_slice(bytes);
    }

    fn into_value(mut self) -> SecretValue {
        SecretValue::new(std::mem::take(&mut *self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str, expand: Expand) -> Vec<(String, String, usize)> {
        parse(text, "t", expand)
            .unwrap()
            .entries
            .into_iter()
            .map(|e| {
                let v = String::from_utf8(e.value.expose().to_vec()).unwrap();
                (e.key, v, e.line)
            })
            .collect()
    }

    fn one(text: &str) -> String {
        values(text, Expand::Literal).remove(0).1
    }

    #[test]
    fn dollar_is_literal_by_default() {
        assert_eq!(one("DB_PASS=\"pa$word$HOME-x\"\n"), "pa$word$HOME-x");
        assert_eq!(
            one("X=${AWS_SECRET_ACCESS_KEY}\n"),
            "${AWS_SECRET_ACCESS_KEY}"
        );
        assert_eq!(one("X='$HOME'\n"), "$HOME");
        assert_eq!(one("X=a\\$b\n"), "a$b");
        let p = parse("A=1\nB=$A\nC='$A'\n", "t", Expand::Literal).unwrap();
        assert_eq!(p.literal_dollar_lines, vec![2]);
    }

    #[test]
    fn expand_reads_only_the_file() {
        let v = values(
            "HOST=db\nURL=\"pg://${HOST}:5432/$HOST\"\nQ='$HOST'\nE=a\\$HOST\nP=5$\n",
            Expand::File,
        );
        assert_eq!(v[1].1, "pg://db:5432/db");
        assert_eq!(v[2].1, "$HOST");
        assert_eq!(v[3].1, "a$HOST");
        assert_eq!(v[4].1, "5$");
        // HOME is in the process environment, not in the file.
        let e = parse("A=1\nB=$HOME\n", "t", Expand::File)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("line 2") && e.contains("$HOME") && e.contains("not defined"),
            "{e}"
        );
        let e = parse("B=${A\n", "t", Expand::File)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn dotenv_syntax() {
        let v = values(
            "# c\nexport A=1\n  B = \"multi\nline\" # note\nC='single # not a comment'\nD=x#y\n\
             E=x # comment\nF=\nG= # empty\nH=\"a\\nb\\\"c\"'d'e\r\nexport=1\nI.J=2\n",
            Expand::Literal,
        );
        let got: Vec<(&str, &str, usize)> = v
            .iter()
            .map(|(k, v, l)| (k.as_str(), v.as_str(), *l))
            .collect();
        assert_eq!(
            got,
            vec![
                ("A", "1", 2),
                ("B", "multi\nline", 3),
                ("C", "single # not a comment", 5),
                ("D", "x#y", 6),
                ("E", "x", 7),
                ("F", "", 8),
                ("G", "", 9),
                ("H", "a\nb\"cde", 10),
                ("export", "1", 11),
                ("I.J", "2", 12),
            ]
        );
    }

    #[test]
    fn errors_name_the_line_never_the_text() {
        for (text, line) in [
            ("A=1\nB=2\nC=\"unterminated-canary\\q\"\n", 3),
            ("A=1\nB=\"never closed canary\nC=3\n", 2),
            ("A=1\n\nx y canary\n", 3),
            ("A=1\nB=one two-canary\n", 2),
            ("A=1\n=canary\n", 2),
        ] {
            let e = parse(text, "f", Expand::Literal).err().unwrap().to_string();
            assert!(e.contains(&format!("line {line}:")), "{text:?}: {e}");
            assert!(!e.contains("canary"), "{e}");
        }
    }

    #[test]
    fn reads_back_what_keep_env_writes() {
        use crate::scope::Name;
        use crate::using::formats::{render, Format, Options};
        let tricky = "a $HOME ${X} `cmd` $(cmd) \\ \" ' # = \n\r\t é \\$";
        let pairs = vec![(Name::new("V").unwrap(), SecretValue::from(tricky))];
        let options = Options {
            k8s_name: "x".into(),
            ..Options::default()
        };
        let text = render(Format::Dotenv, &pairs, &options).unwrap();
        for expand in [Expand::Literal, Expand::File] {
            let p = parse(&text, "t", expand).unwrap();
            assert_eq!(p.entries.len(), 1);
            assert_eq!(p.entries[0].value.expose(), tricky.as_bytes(), "{expand:?}");
        }
    }
}
