//! Go's `regexp.Compile` as cloudflared runs it on a rule's `path`, on top
//! of the `regex` crate (both are RE2 dialects).
//!
//! The dialects differ at the edges, so the pattern is first walked with
//! Go's rules: what Go refuses and Rust would accept (the `x` flag, repeat
//! counts over 1000) is refused with Go's text; what Go reads as a literal
//! and Rust would refuse (a `{` that starts no repeat) is escaped. Errors
//! Rust finds are worded as Go's (`missing closing )`, `unexpected )`,
//! ...). Known gap: Unicode classes (`\pL`) need `regex` features lab does
//! not build, so they are refused where Go accepts them.

use regex::Regex;

/// Go's `maxRepeat`.
const MAX_REPEAT: u32 = 1000;

/// Compiles `pattern` as Go would; the error is Go's `*syntax.Error` text
/// (`` error parsing regexp: <code>: `<expr>` ``).
pub(crate) fn compile(pattern: &str) -> Result<Regex, String> {
    let translated = translate(pattern).map_err(|(code, expr)| go_error(code, &expr))?;
    Regex::new(&translated).map_err(|e| rust_error_as_go(pattern, &e.to_string()))
}

fn go_error(code: &str, expr: &str) -> String {
    format!("error parsing regexp: {code}: `{expr}`")
}

/// Walks the Go pattern, returning the equivalent Rust pattern or Go's
/// error (code, expression).
fn translate(pattern: &str) -> Result<String, (&'static str, String)> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let Some(&next) = chars.get(i + 1) else {
                    return Err(("trailing backslash at end of expression", String::new()));
                };
                if next.is_ascii_digit() && next != '0' {
                    // `\1`..: a backreference, which RE2 does not have.
                    // (`\1` followed by an octal digit is an octal escape
                    // in Go; no path uses one.)
                    return Err(("invalid escape sequence", format!("\\{next}")));
                }
                out.push('\\');
                out.push(next);
                i += 2;
            }
            '[' => {
                let end = class_end(&chars, i);
                let Some(end) = end else {
                    return Err(("missing closing ]", chars[i..].iter().collect::<String>()));
                };
                out.extend(&chars[i..=end]);
                i = end + 1;
            }
            '(' if chars.get(i + 1) == Some(&'?') => {
                let consumed = perl_flags(&chars[i..])?;
                out.extend(&chars[i..i + consumed]);
                i += consumed;
            }
            '{' => match repeat(&chars[i..]) {
                Some((len, min, max)) => {
                    let text: String = chars[i..i + len].iter().collect();
                    if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT || m < min) {
                        return Err(("invalid repeat count", text));
                    }
                    out.push_str(&text);
                    i += len;
                }
                None => {
                    // Go: a `{` that starts no repeat is a literal.
                    out.push_str("\\{");
                    i += 1;
                }
            },
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The index of the `]` closing the class opened at `start`, Go's way (a
/// `]` right after `[` or `[^` is a literal; `\` escapes; `[:name:]`).
fn class_end(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start + 1;
    if chars.get(i) == Some(&'^') {
        i += 1;
    }
    if chars.get(i) == Some(&']') {
        i += 1;
    }
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '[' if chars.get(i + 1) == Some(&':') => {
                let rest: String = chars[i + 2..].iter().collect();
                match rest.find(":]") {
                    Some(off) => i += 2 + rest[..off].chars().count() + 2,
                    None => i += 1,
                }
            }
            ']' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Go's `parsePerlFlags` on `(?...`: the length of a valid group opener
/// (`(?i)`, `(?i:`, `(?P<name>`, `(?<name>`) or Go's error.
fn perl_flags(t: &[char]) -> Result<usize, (&'static str, String)> {
    let text: String = t.iter().collect();
    let named = (t.len() > 4 && t[2] == 'P' && t[3] == '<') || (t.len() > 3 && t[2] == '<');
    if named {
        let begin = if t[2] == 'P' { 4 } else { 3 };
        let Some(end) = t.iter().position(|&c| c == '>') else {
            return Err(("invalid named capture", text));
        };
        let name: String = t[begin..end].iter().collect();
        let valid = !name.is_empty() && name.chars().all(|c| c == '_' || c.is_alphanumeric());
        if !valid {
            return Err(("invalid named capture", t[..=end].iter().collect()));
        }
        return Ok(end + 1);
    }
    let mut i = 2;
    let mut sign_seen = false;
    let mut saw_flag = false;
    while i < t.len() {
        let c = t[i];
        i += 1;
        match c {
            'i' | 'm' | 's' | 'U' => saw_flag = true,
            '-' => {
                if sign_seen {
                    break;
                }
                sign_seen = true;
                saw_flag = false;
            }
            ':' | ')' => {
                if sign_seen && !saw_flag {
                    break;
                }
                return Ok(i);
            }
            _ => break,
        }
    }
    Err((
        "invalid or unsupported Perl syntax",
        t[..i].iter().collect(),
    ))
}

/// A repeat `{n}`, `{n,}` or `{n,m}` at the start of `t`: its length,
/// min and max (None: unbounded). None if `t` starts no repeat (Go then
/// reads the `{` as a literal).
fn repeat(t: &[char]) -> Option<(usize, u32, Option<u32>)> {
    let close = t.iter().position(|&c| c == '}')?;
    let body: String = t[1..close].iter().collect();
    let number = |s: &str| -> Option<u32> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Go refuses numbers over 1e8 as no repeat; saturate, still > 1000.
        Some(s.parse::<u32>().unwrap_or(u32::MAX))
    };
    let (min, max) = match body.split_once(',') {
        None => {
            let n = number(&body)?;
            (n, Some(n))
        }
        Some((a, "")) => (number(a)?, None),
        Some((a, b)) => (number(a)?, Some(number(b)?)),
    };
    Some((close + 1, min, max))
}

/// Words an error from the `regex` crate as Go's parser would.
fn rust_error_as_go(pattern: &str, rust: &str) -> String {
    let table: [(&str, &str); 8] = [
        ("unclosed group", "missing closing )"),
        ("unopened group", "unexpected )"),
        ("unclosed character class", "missing closing ]"),
        (
            "invalid character class range",
            "invalid character class range",
        ),
        (
            "repetition operator missing expression",
            "missing argument to repetition operator",
        ),
        ("unrecognized escape sequence", "invalid escape sequence"),
        ("look-around", "invalid or unsupported Perl syntax"),
        ("exceeds size limit", "expression too large"),
    ];
    for (needle, code) in table {
        if rust.contains(needle) {
            return go_error(code, pattern);
        }
    }
    // Anything else: Go's prefix with the regex crate's own explanation.
    let detail = rust.lines().last().unwrap_or(rust).trim();
    format!("error parsing regexp: {detail}: `{pattern}`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_go_patterns() {
        for p in [
            "^/admin(/|$)",
            "\\.(jpg|png)$",
            "^/api/v[0-9]+/",
            "(?i)^/Admin",
            "[]a]",
            "/{id}",
            "a{2,5}",
            "(?P<x>a)(?<y>b)",
        ] {
            assert!(compile(p).is_ok(), "{p}: {:?}", compile(p).err());
        }
        assert!(compile("/{id}").unwrap().is_match("/x/{id}/"));
        assert!(compile("(?i)^/Admin").unwrap().is_match("/ADMIN/x"));
    }

    #[test]
    fn refuses_with_go_words() {
        let cases = [
            (
                "^/(?!admin)",
                "error parsing regexp: invalid or unsupported Perl syntax: `(?!`",
            ),
            (
                "(?x)a",
                "error parsing regexp: invalid or unsupported Perl syntax: `(?x`",
            ),
            (
                "(?<=a)b",
                "error parsing regexp: invalid named capture: `(?<=a)b`",
            ),
            (
                "(a)\\1",
                "error parsing regexp: invalid escape sequence: `\\1`",
            ),
            (
                "a{1001}",
                "error parsing regexp: invalid repeat count: `{1001}`",
            ),
            (
                "a{3,2}",
                "error parsing regexp: invalid repeat count: `{3,2}`",
            ),
            (
                "^/(admin",
                "error parsing regexp: missing closing ): `^/(admin`",
            ),
            ("^/admin)", "error parsing regexp: unexpected ): `^/admin)`"),
            ("/[a-", "error parsing regexp: missing closing ]: `[a-`"),
            (
                "a\\",
                "error parsing regexp: trailing backslash at end of expression: ``",
            ),
        ];
        for (p, want) in cases {
            assert_eq!(compile(p).unwrap_err(), want, "{p}");
        }
        // Go quotes only the range or operator here; the code is Go's.
        let cases = [
            (
                "[z-a]",
                "error parsing regexp: invalid character class range: `",
            ),
            (
                "*a",
                "error parsing regexp: missing argument to repetition operator: `",
            ),
        ];
        for (p, want) in cases {
            assert!(compile(p).unwrap_err().starts_with(want), "{p}");
        }
    }
}
