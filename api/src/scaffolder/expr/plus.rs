//! JavaScript's `+` and `-` for nunjucks templates: `a + b` is rewritten to `_jsadd(a, b)` and `a - b`
//! to `_jssub(a, b)` before minijinja parses them, and they compute as JavaScript does (`js::add`, `js::sub`) (a string on
//! either side of `+` concatenates what `String()` gives, `undefined + '/'` is `'undefined/'`, numbers
//! add, `undefined + 1` and `undefined - undefined` are `NaN`), where minijinja refuses mixed or
//! undefined operands. Real templates write `${{ values.destination.owner + "/" +
//! values.destination.repo }}` with no `destination` passed, or keep a GitHub workflow's
//! `${{ matrix.python-version }}` in a rendered file, and Backstage writes `undefined/undefined` and
//! `NaN`; so does Greenroom now.
//!
//! The rewrite works on tokens: the operands of a `+` are what lies between it and the nearest
//! operator of lower precedence (`~`, comparisons, `in`, `is`, `not`, `and`, `or`, `if`, `else`, `,`,
//! `:`, `=`) or bracket at the same depth; `*`, `/`, `%`, filters, calls, attributes and subscripts
//! bind tighter and stay inside an operand. A `+` or `-` with no operand before it is unary.

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Space,
    Word,
    Literal,
    Open,
    Close,
    Op,
}

fn tokens(code: &str) -> Vec<(Kind, &str)> {
    let mut out = Vec::new();
    let mut i = 0;
    let b = code.as_bytes();
    while i < b.len() {
        let c = b[i] as char;
        let start = i;
        let kind = if c.is_whitespace() {
            while i < b.len() && (b[i] as char).is_whitespace() {
                i += 1;
            }
            Kind::Space
        } else if c == '"' || c == '\'' {
            i += 1;
            while i < b.len() && b[i] as char != c {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(b.len());
            Kind::Literal
        } else if c.is_alphanumeric() || c == '_' || !c.is_ascii() {
            while i < b.len() && {
                let d = b[i] as char;
                d.is_alphanumeric() || d == '_' || d == '.' && c.is_ascii_digit() || !d.is_ascii()
            } {
                i += 1;
                // An exponent's sign belongs to its number (`1e+5`).
                if c.is_ascii_digit()
                    && matches!(b[i - 1], b'e' | b'E')
                    && matches!(b.get(i), Some(b'+' | b'-'))
                {
                    i += 1;
                }
            }
            Kind::Word
        } else if "([{".contains(c) {
            i += 1;
            Kind::Open
        } else if ")]}".contains(c) {
            i += 1;
            Kind::Close
        } else {
            let two = code.get(i..i + 2).unwrap_or("");
            i += if ["**", "//", "==", "!=", "<=", ">="].contains(&two) {
                2
            } else {
                1
            };
            Kind::Op
        };
        while !code.is_char_boundary(i) {
            i += 1;
        }
        out.push((kind, &code[start..i.min(code.len())]));
    }
    out
}

/// Tokens that end an additive operand: operators of lower precedence than `+`.
fn boundary(kind: Kind, text: &str) -> bool {
    match kind {
        Kind::Word => matches!(text, "if" | "else" | "or" | "and" | "not" | "in" | "is"),
        Kind::Op => matches!(
            text,
            "," | ":" | "=" | "~" | "==" | "!=" | "<" | ">" | "<=" | ">="
        ),
        _ => false,
    }
}

/// Folds one segment (no boundary inside at depth 0): `[operand, (op, operand)…]` into `_jsadd` and
/// `_jssub` calls when it has a binary `+` or `-`, else gives it back as written.
fn fold(parts: Vec<(String, String)>) -> String {
    if parts.len() < 2 {
        return parts.into_iter().map(|(op, o)| op + &o).collect();
    }
    let mut parts = parts.into_iter();
    let (_, first) = parts.next().unwrap_or_default();
    let lead = &first[..first.len() - first.trim_start().len()];
    let mut acc = unary(first.trim());
    let mut tail = String::new();
    for (op, operand) in parts {
        tail = operand[operand.trim_end().len()..].to_string();
        let rhs = unary(operand.trim());
        acc = if op == "+" {
            format!("_jsadd({acc}, {rhs})")
        } else {
            format!("_jssub({acc}, {rhs})")
        };
    }
    format!("{lead}{acc}{tail}")
}

/// An operand with a unary sign, its sign applied to the whole operand (`-(values.count)`): minijinja
/// would apply it to `values` before `.count`.
fn unary(operand: &str) -> String {
    match operand.strip_prefix(['-', '+']) {
        Some(rest) if !rest.trim_start().starts_with(|c: char| c.is_ascii_digit()) => {
            format!("{}({})", &operand[..1], rest.trim_start())
        }
        _ => operand.to_string(),
    }
}

/// Rewrites tokens from `*i` up to the closing bracket of the current depth (or the end); leaves `*i`
/// at that closer.
fn level(t: &[(Kind, &str)], i: &mut usize) -> String {
    let mut out = String::new();
    let mut parts: Vec<(String, String)> = vec![(String::new(), String::new())];
    let mut has_operand = false;
    while *i < t.len() {
        let (kind, text) = t[*i];
        if kind == Kind::Close {
            break;
        }
        if boundary(kind, text) {
            out.push_str(&fold(std::mem::replace(
                &mut parts,
                vec![(String::new(), String::new())],
            )));
            out.push_str(text);
            has_operand = false;
        } else if kind == Kind::Op && (text == "+" || text == "-") && has_operand {
            parts.push((text.to_string(), String::new()));
            has_operand = false;
        } else if kind == Kind::Open {
            *i += 1;
            let inner = level(t, i);
            let close = t.get(*i).map_or("", |(_, c)| *c);
            if let Some(last) = parts.last_mut() {
                last.1.push_str(&format!("{text}{inner}{close}"));
            }
            has_operand = true;
        } else {
            if let Some(last) = parts.last_mut() {
                last.1.push_str(text);
            }
            if kind != Kind::Space {
                has_operand = kind != Kind::Op || text == ")";
            }
        }
        *i += 1;
    }
    out.push_str(&fold(parts));
    out
}

/// `code` (one `${{ }}` or `{% %}`, past rewrite_code) with every binary `+` made a `_jsadd` call and
/// every binary `-` a `_jssub` call. A
/// leading or trailing `-`/`+` (whitespace control) is kept as it is.
pub fn rewrite(code: &str) -> String {
    if !code.contains(['+', '-']) {
        return code.to_string();
    }
    let trimmed = code.trim_end();
    let (body, marker) = match trimmed.chars().last() {
        Some(c @ ('-' | '+')) => (
            &trimmed[..trimmed.len() - 1],
            format!("{c}{}", &code[trimmed.len()..]),
        ),
        _ => (code, String::new()),
    };
    // So is a leading one (`${{- x }}`).
    let (lead, body) = match body.chars().next() {
        Some(c @ ('-' | '+')) => (c.to_string(), &body[1..]),
        _ => (String::new(), body),
    };
    let t = tokens(body);
    let mut i = 0;
    let mut out = lead;
    while i < t.len() {
        out.push_str(&level(&t, &mut i));
        // An unbalanced closer: keep it and go on.
        if let Some((_, c)) = t.get(i) {
            out.push_str(c);
            i += 1;
        }
    }
    out + &marker
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn binary_plus_becomes_a_call_with_the_operands_precedence_gives() {
        let cases = [
            ("a + b", "_jsadd(a, b)"),
            (" a.x + '/' + b ", " _jsadd(_jsadd(a.x, '/'), b) "),
            ("a * 2 + b | upper", "_jsadd(a * 2, b | upper)"),
            ("x == a + 1", "x == _jsadd(a, 1)"),
            ("'y' if a + b else c", "'y' if _jsadd(a, b) else c"),
            ("f(a + b, [c + d])", "f(_jsadd(a, b), [_jsadd(c, d)])"),
            ("a - b + c", "_jsadd(_jssub(a, b), c)"),
            ("matrix.python-version", "_jssub(matrix.python, version)"),
            ("x, -a.b + 1", "x, _jsadd(-(a.b), 1)"),
            ("- a + b -", "- _jsadd(a, b) -"),
            ("a + -b", "_jsadd(a, -(b))"),
            (" set x = a + 'b' -", " set x = _jsadd(a, 'b') -"),
            ("'a + b' ~ c", "'a + b' ~ c"),
            ("a * b", "a * b"),
            ("1e+5", "1e+5"),
        ];
        for (code, want) in cases {
            assert_eq!(rewrite(code), want, "{code}");
        }
    }
}
