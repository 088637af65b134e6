//! A linear scan that bounds how deeply a YAML (or JSON) document nests before it is parsed: parsing is
//! quadratic in depth, so a small document nested thousands deep must be refused without parsing it.
//!
//! The estimate never undercounts what a YAML parser would build: block indentation levels, compact
//! nested sequences (`- - - x`) and flow brackets outside quoted scalars, comments and block scalars.

/// Whether `text` nests deeper than `max` (an over-estimate at worst).
pub fn deeper_than(text: &str, max: usize) -> bool {
    let mut s = Scan::default();
    for line in text.lines() {
        if s.line(line) > max {
            return true;
        }
    }
    false
}

#[derive(Default)]
struct Scan {
    /// Indentation of the open block levels.
    indents: Vec<usize>,
    /// Open flow collections (`[`, `{`), across lines.
    flow: usize,
    /// Inside a quoted scalar that spans lines: its quote character.
    quote: Option<char>,
    /// Inside a block scalar (`|`, `>`): the indentation of the line that opened it.
    block_scalar: Option<usize>,
}

impl Scan {
    /// Scans one line; returns the deepest nesting seen on it.
    fn line(&mut self, line: &str) -> usize {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let rest = &line[indent..];
        if let Some(opened) = self.block_scalar {
            if rest.is_empty() || indent > opened {
                return 0;
            }
            self.block_scalar = None;
        }
        if self.quote.is_none() && self.flow == 0 {
            if rest.is_empty() || rest.starts_with('#') {
                return 0;
            }
            while self.indents.last().is_some_and(|&top| top > indent) {
                self.indents.pop();
            }
            if self.indents.last().is_none_or(|&top| top < indent) {
                self.indents.push(indent);
            }
        }
        let mut depth = self.indents.len();
        let mut deepest = depth + self.flow;
        let bytes: Vec<char> = rest.chars().collect();
        let mut i = 0;
        let mut prev = ' ';
        let mut last_token = String::new();
        while i < bytes.len() {
            let c = bytes[i];
            if let Some(q) = self.quote {
                if c == '\\' && q == '"' {
                    i += 2;
                    continue;
                }
                if c == q {
                    if q == '\'' && bytes.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    self.quote = None;
                }
                prev = c;
                i += 1;
                continue;
            }
            let token_start = matches!(prev, ' ' | '[' | '{' | ',' | ':' | '-' | '?');
            match c {
                '#' if prev == ' ' || i == 0 => break,
                '"' | '\'' if token_start || i == 0 => self.quote = Some(c),
                '[' | '{' => self.flow += 1,
                ']' | '}' => self.flow = self.flow.saturating_sub(1),
                '-' | '?'
                    if (i == 0 || prev == ' ') && bytes.get(i + 1).is_none_or(|n| *n == ' ') =>
                {
                    depth += 1
                }
                _ => {}
            }
            if c == ' ' {
                last_token.clear();
            } else {
                last_token.push(c);
            }
            deepest = deepest.max(depth + self.flow);
            prev = c;
            i += 1;
        }
        let t = last_token.trim_end();
        if self.quote.is_none()
            && self.flow == 0
            && (t.starts_with('|') || t.starts_with('>'))
            && t[1..]
                .chars()
                .all(|c| c.is_ascii_digit() || c == '-' || c == '+')
        {
            self.block_scalar = Some(indent);
        }
        deepest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_block_flow_and_compact_nesting() {
        assert!(!deeper_than("a:\n  b:\n    c: 1\n", 3));
        assert!(deeper_than("a:\n  b:\n    c:\n      d: 1\n", 3));
        assert!(deeper_than(
            &format!("x: {}1{}\n", "[".repeat(40), "]".repeat(40)),
            32
        ));
        assert!(!deeper_than(
            &format!("x: {}1{}\n", "[".repeat(20), "]".repeat(20)),
            32
        ));
        assert!(deeper_than(&format!("{}x\n", "- ".repeat(40)), 32));
        assert!(deeper_than(&"[".repeat(30_000), 64));
    }

    #[test]
    fn quotes_comments_and_block_scalars_hide_nothing_and_count_nothing() {
        let brackets = "[".repeat(100);
        assert!(!deeper_than(
            &format!("a: '{brackets}'\nb: \"{brackets}\"\n"),
            4
        ));
        assert!(!deeper_than(&format!("a: 1 # {brackets}\n"), 4));
        assert!(!deeper_than(
            &format!("a: |\n  {brackets}\n  ' not a quote\nb: 1\n"),
            4
        ));
        // An apostrophe inside a plain scalar does not open a quote that could hide real nesting.
        assert!(deeper_than(&format!("a: it's\nb: {brackets}\n"), 32));
        // A block scalar ends where the indentation returns.
        assert!(deeper_than(&format!("a: >-\n  text\nb: {brackets}\n"), 32));
    }
}
