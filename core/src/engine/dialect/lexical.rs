//! go.starlark.net's scanner (`syntax/scan.go`, `syntax/quote.go`), as Incus runs it, in
//! front of the `starlark` crate's lexer, which differs from it both ways:
//!
//! - Incus refuses what the crate accepts: unknown escapes (`'\q'`, `'\N{…}'`, `'\8'`),
//!   non-ASCII `\x`/octal escapes in text strings, octal and binary literals past 64 bits,
//!   floats that overflow (`1e400`). [`scan`] reports the first such error with Incus's
//!   message and position (and every other lexical error go.starlark.net reports, in its words).
//! - Incus accepts what the crate refuses: tabs (indentation with tab stops of 8, and between
//!   tokens), `00`, identifiers with non-ASCII letters, `assert` as a name. [`scan`] rewrites
//!   those into text the crate parses with the same meaning, and a [`SourceMap`] takes
//!   positions and names in the crate's answers back to the author's source.
//!
//! Corpus cases `*_lex_*` record Incus 6.0.4's verdict for each.

use std::collections::{BTreeMap, BTreeSet};

use super::super::diagnostic::{Diagnostic, ErrorKind};

/// The source rewritten for the `starlark` crate, the way back, and go.starlark.net's verdict.
pub struct Lexed {
    /// Same lines as the source; columns differ only after indentation tabs were expanded.
    /// After a lexical error, only the text before the offending token: the crate's parser
    /// then tells whether go.starlark.net's parser would have stopped earlier.
    pub text: String,
    /// Where the token with the lexical error starts (1-based line and source column).
    pub error_token: Option<(usize, usize)>,
    pub map: SourceMap,
    /// The first error go.starlark.net's scanner reports, at its position.
    pub error: Option<Diagnostic>,
    /// Literals whose value differs between the dialects although both accept them.
    pub warnings: Vec<Diagnostic>,
    /// How deep the crate's parser and compiler will recurse, to size their stack.
    pub nesting: Nesting,
}

/// The deepest point of the source's expressions, as the `starlark` crate's recursive parser
/// and compiler will reach it: open brackets, and operators chained in one bracket's element
/// (`1 + 1 + …` nests one AST level per `+`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Nesting {
    pub brackets: usize,
    pub operators: usize,
}

/// Takes positions and names in the rewritten text back to the author's source.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    /// (name in the rewritten text, name in the source).
    renames: Vec<(String, String)>,
    /// Per 1-based line whose indentation tabs were expanded: the expanded indentation's width
    /// and how many columns it added.
    shifts: BTreeMap<usize, (usize, usize)>,
}

impl SourceMap {
    /// The source column of a 1-based `column` of the rewritten text on `line`.
    pub fn column(&self, line: usize, column: usize) -> usize {
        match self.shifts.get(&line) {
            Some(&(width, added)) if column > width => column - added,
            Some(&(width, added)) => column.min(width - added).max(1),
            None => column,
        }
    }

    /// `text` (a message of the crate) with the source's names for renamed identifiers.
    pub fn names(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (ours, theirs) in &self.renames {
            text = replace_word(&text, ours, theirs);
        }
        text
    }

    /// `diagnostic`, produced against the rewritten text, in the source's terms.
    pub fn translate(&self, mut diagnostic: Diagnostic, source: &str) -> Diagnostic {
        diagnostic.message = self.names(&diagnostic.message);
        diagnostic.rendered = self.names(&diagnostic.rendered);
        if let (Some(line), Some(column)) = (diagnostic.line, diagnostic.column) {
            if self.shifts.contains_key(&line) {
                let column = self.column(line, column);
                let rendered = diagnostic.rendered.clone();
                diagnostic = diagnostic.at(source, line, column);
                // Keep a traceback the crate rendered; re-render a plain snippet.
                if rendered.contains("Traceback") {
                    diagnostic.rendered = rendered;
                }
            }
        }
        diagnostic
    }
}

fn replace_word(text: &str, word: &str, with: &str) -> String {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find(word) {
        let before = rest[..found].chars().next_back();
        let after = rest[found + word.len()..].chars().next();
        out.push_str(&rest[..found]);
        if before.is_some_and(is_ident) || after.is_some_and(is_ident) {
            out.push_str(word);
        } else {
            out.push_str(with);
        }
        rest = &rest[found + word.len()..];
    }
    out.push_str(rest);
    out
}

/// Scans `source` as go.starlark.net does.
pub fn scan(source: &str) -> Lexed {
    let mut scanner = Scanner::new(source);
    let error = scanner.run().err();
    scanner.finish(error)
}

/// go.starlark.net's tab stops for indentation.
const TAB: usize = 8;

struct Scanner {
    chars: Vec<char>,
    at: usize,
    /// 1-based, columns in characters as go.starlark.net counts them.
    line: usize,
    column: usize,
    depth: usize,
    indents: Vec<usize>,
    line_start: bool,
    out: Vec<char>,
    shifts: BTreeMap<usize, (usize, usize)>,
    /// ASCII identifiers kept as they are (renamed ones must not collide with them).
    names: BTreeSet<String>,
    /// (index in `out`, identifier, position) of each identifier the crate cannot lex.
    to_rename: Vec<(usize, String, (usize, usize))>,
    warnings: Vec<Diagnostic>,
    source: String,
    /// Operators chained so far in the current element of each open bracket (the first:
    /// the statement).
    chains: Vec<usize>,
    /// Length of `out` and position where the current token starts.
    token_out: usize,
    token_pos: (usize, usize),
    /// The sum of `chains`.
    chained: usize,
    deepest: Nesting,
    /// Weighted like the crate's frames: a bracket level costs more than an operator.
    deepest_cost: usize,
}

type Scan = Result<(), Diagnostic>;

impl Scanner {
    fn new(source: &str) -> Scanner {
        Scanner {
            chars: source.chars().collect(),
            at: 0,
            line: 1,
            column: 1,
            depth: 0,
            indents: vec![0],
            line_start: true,
            out: Vec::with_capacity(source.len()),
            shifts: BTreeMap::new(),
            names: BTreeSet::new(),
            to_rename: Vec::new(),
            warnings: Vec::new(),
            source: source.to_owned(),
            chains: vec![0],
            token_out: 0,
            token_pos: (1, 1),
            chained: 0,
            deepest: Nesting::default(),
            deepest_cost: 0,
        }
    }

    /// An operator (or `.`, or an operator keyword) chained onto the current element.
    fn operator(&mut self) {
        if let Some(chain) = self.chains.last_mut() {
            *chain += 1;
            self.chained += 1;
        }
        let nesting = Nesting {
            brackets: self.chains.len() - 1,
            operators: self.chained,
        };
        let cost = super::super::stack::bytes_for(nesting);
        if cost > self.deepest_cost {
            self.deepest_cost = cost;
            self.deepest = nesting;
        }
    }

    /// A new element starts (after `,`, `;`, `:` or a line break): its chain is empty.
    fn element(&mut self) {
        if let Some(chain) = self.chains.last_mut() {
            self.chained -= *chain;
            *chain = 0;
        }
    }

    fn error(&self, (line, column): (usize, usize), message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(ErrorKind::Syntax, message).at(&self.source, line, column)
    }

    fn pos(&self) -> (usize, usize) {
        (self.line, self.column)
    }

    /// The next character with `\r\n` and a lone `\r` read as `\n`, as go.starlark.net does.
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).map(|&c| if c == '\r' { '\n' } else { c })
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.at + offset).copied()
    }

    /// Consumes one character without copying it to the output.
    fn skip(&mut self) -> Option<char> {
        let c = *self.chars.get(self.at)?;
        self.at += 1;
        if c == '\r' && self.chars.get(self.at) == Some(&'\n') {
            self.at += 1;
        }
        if c == '\n' || c == '\r' {
            self.line += 1;
            self.column = 1;
            Some('\n')
        } else {
            self.column += 1;
            Some(c)
        }
    }

    /// Consumes one character and copies it (line breaks as they were written).
    fn copy(&mut self) -> Option<char> {
        let start = self.at;
        let c = self.skip()?;
        if self.chars[start] == '\r' && self.at - start == 1 {
            // A lone carriage return ends a line for go.starlark.net, not for the crate.
            self.out.push('\n');
        } else {
            self.out.extend_from_slice(&self.chars[start..self.at]);
        }
        Some(c)
    }

    /// Marks the start of a token (or of a line's indentation) for [`Lexed::text`].
    fn token(&mut self) {
        self.token_out = self.out.len();
        self.token_pos = self.pos();
    }

    fn run(&mut self) -> Scan {
        loop {
            if self.line_start {
                self.line_start = false;
                self.token();
                self.indentation()?;
            }
            while let Some(c @ (' ' | '\t')) = self.peek() {
                self.skip();
                // The crate takes no tab between tokens; a space means the same.
                self.out.push(if c == '\t' { ' ' } else { c });
            }
            self.token();
            let Some(c) = self.peek() else { return Ok(()) };
            match c {
                '#' => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.copy();
                    }
                }
                '\n' => {
                    self.copy();
                    if self.depth == 0 {
                        self.element();
                    }
                    self.line_start = true;
                }
                '\\' => {
                    self.copy();
                    if self.peek() != Some('\n') {
                        return Err(self.error(self.pos(), "stray backslash in program"));
                    }
                    self.copy();
                }
                '"' | '\'' => self.string(0)?,
                'r' | 'b' if matches!(self.peek_at(1), Some('"' | '\'')) => self.string(1)?,
                'r' if self.peek_at(1) == Some('b') && matches!(self.peek_at(2), Some('"' | '\'')) => {
                    self.string(2)?
                }
                c if is_ident_start(c) => self.identifier(),
                '(' | '[' | '{' => {
                    self.depth += 1;
                    self.chains.push(0);
                    self.operator();
                    self.copy();
                }
                ')' | ']' | '}' => {
                    if self.depth == 0 {
                        return Err(self.error(self.pos(), format!("unexpected {}", quote_rune(c))));
                    }
                    self.depth -= 1;
                    if self.chains.len() > 1 {
                        self.chained -= self.chains.pop().unwrap_or(0);
                    }
                    self.copy();
                }
                c if c.is_ascii_digit() || c == '.' => self.number()?,
                '!' if self.peek_at(1) != Some('=') => {
                    return Err(self.error(self.pos(), "unexpected input character '!'"));
                }
                ',' | ';' | ':' => {
                    self.element();
                    self.copy();
                }
                '=' | '<' | '>' | '!' | '+' | '-' | '%' | '/' | '&' | '|' | '^' | '~' | '*' => {
                    self.operator();
                    self.copy();
                }
                c => {
                    return Err(self.error(
                        self.pos(),
                        format!("unexpected input character {}", quote_rune(c)),
                    ))
                }
            }
        }
    }

    /// The blanks starting a line: go.starlark.net's indentation levels (tabs to the next
    /// multiple of 8), written out with spaces for the crate, which refuses tabs.
    fn indentation(&mut self) -> Scan {
        let start = self.out.len();
        let mut width = 0;
        let mut has_tab = false;
        while let Some(c @ (' ' | '\t')) = self.peek() {
            if c == '\t' {
                has_tab = true;
                width += TAB - (self.column - 1) % TAB;
            } else {
                width += 1;
            }
            self.skip();
            self.out.push(' ');
        }
        let blank = matches!(self.peek(), None | Some('#' | '\n'));
        if blank || self.depth > 0 {
            return Ok(());
        }
        let current = *self.indents.last().unwrap_or(&0);
        if width > current {
            self.indents.push(width);
        } else if width < current {
            while self.indents.last().is_some_and(|&level| width < level) {
                self.indents.pop();
            }
            if self.indents.last() != Some(&width) {
                return Err(self.error(self.pos(), "unindent does not match any outer indentation level"));
            }
        }
        if has_tab {
            let written = self.out.len() - start;
            self.out.truncate(start);
            self.out.extend(std::iter::repeat_n(' ', width));
            self.shifts.insert(self.line, (width, width - written));
        }
        Ok(())
    }

    fn identifier(&mut self) {
        let start = self.at;
        while self.peek().is_some_and(is_ident) {
            self.skip();
        }
        let name: String = self.chars[start..self.at].iter().collect();
        // `assert` is reserved in the crate only; non-ASCII letters are identifiers only in Go.
        if matches!(
            name.as_str(),
            "and" | "or" | "not" | "in" | "if" | "else" | "for" | "lambda"
        ) {
            self.operator();
        }
        if !name.is_ascii() || name == "assert" {
            self.to_rename
                .push((self.out.len(), name.clone(), self.token_pos));
        } else {
            self.names.insert(name.clone());
        }
        self.out.extend(name.chars());
    }

    /// A string or bytes literal after `prefix` characters (`r`, `b`, `rb`).
    fn string(&mut self, prefix: usize) -> Scan {
        let token_start = self.pos();
        let raw = self.chars[self.at..self.at + prefix].contains(&'r');
        let bytes = self.chars[self.at..self.at + prefix].contains(&'b');
        for _ in 0..prefix {
            self.copy();
        }
        let start = self.pos();
        let quote = self.peek().unwrap_or('"');
        let triple = self.peek_at(1) == Some(quote) && self.peek_at(2) == Some(quote);
        let quotes = if triple { 3 } else { 1 };
        for _ in 0..quotes {
            self.copy();
        }
        let mut body = Vec::new();
        let mut closing = 0;
        loop {
            let Some(c) = self.copy() else {
                return Err(self.error(token_start, "unexpected EOF in string"));
            };
            body.push(c);
            if c == quote {
                closing += 1;
                if closing == quotes {
                    break;
                }
            } else {
                closing = 0;
            }
            if c == '\n' && !triple {
                return Err(self.error(token_start, "unexpected newline in string"));
            }
            if c == '\\' {
                let Some(escaped) = self.copy() else {
                    return Err(self.error(token_start, "unexpected EOF in string"));
                };
                body.push(escaped);
            }
        }
        body.truncate(body.len() - quotes);
        if raw
            && !bytes
            && body
                .windows(2)
                .any(|w| w[0] == '\\' && matches!(w[1], '\'' | '"'))
        {
            self.warnings.push(
                Diagnostic::warning(
                    "fidelity-raw-quote",
                    "a backslash before a quote stays in a raw string in Incus (r'\\'' is \\') \
                     but not in Berth's engine (')",
                )
                .at(&self.source, token_start.0, token_start.1),
            );
        }
        if raw {
            return Ok(());
        }
        unquote(&body, bytes).map_err(|message| self.error(start, message))
    }

    /// A number, as `scanNumber` reads it; `00…` (which the crate refuses) is written as `0`.
    fn number(&mut self) -> Scan {
        let start_pos = self.pos();
        let start = self.at;
        let mut fraction = false;
        let mut exponent = false;
        let digits = |s: &mut Scanner, pred: fn(char) -> bool| {
            while s.peek().is_some_and(pred) {
                s.skip();
            }
        };
        let first = self.peek().unwrap_or('0');
        if first == '.' {
            if !self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
                self.operator();
                self.copy();
                return Ok(());
            }
            fraction = true;
        } else if first == '0' {
            self.skip();
            match self.peek() {
                Some('.') => fraction = true,
                Some(x @ ('x' | 'X' | 'o' | 'O' | 'b' | 'B')) => {
                    self.skip();
                    let (pred, what): (fn(char) -> bool, _) = match x {
                        'x' | 'X' => (|c: char| c.is_ascii_hexdigit(), "hex"),
                        'o' | 'O' => (|c: char| ('0'..='7').contains(&c), "octal"),
                        _ => (|c: char| c == '0' || c == '1', "binary"),
                    };
                    if !self.peek().is_some_and(pred) {
                        let at = if what == "hex" { start_pos } else { self.pos() };
                        return Err(self.error(at, format!("invalid {what} literal")));
                    }
                    digits(self, pred);
                }
                _ => {
                    let (mut all_zeros, mut octal) = (true, true);
                    while let Some(c) = self.peek().filter(|c| c.is_ascii_digit()) {
                        all_zeros &= c == '0';
                        octal &= c <= '7';
                        self.skip();
                    }
                    match self.peek() {
                        Some('.') => fraction = true,
                        Some('e' | 'E') => exponent = true,
                        _ if octal && !all_zeros => {
                            let text: String = self.chars[start + 1..self.at].iter().collect();
                            return Err(self.error(
                                self.pos(),
                                format!("obsolete form of octal literal; use 0o{text}"),
                            ));
                        }
                        _ => {}
                    }
                }
            }
        } else {
            digits(self, |c| c.is_ascii_digit());
            match self.peek() {
                Some('.') => fraction = true,
                Some('e' | 'E') => exponent = true,
                _ => {}
            }
        }
        if fraction {
            self.skip();
            digits(self, |c| c.is_ascii_digit());
            exponent = matches!(self.peek(), Some('e' | 'E'));
        }
        if exponent {
            self.skip();
            if let Some('+' | '-') = self.peek() {
                self.skip();
                if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    return Err(self.error(self.pos(), "invalid float literal"));
                }
            }
            digits(self, |c| c.is_ascii_digit());
        }
        let text: String = self.chars[start..self.at].iter().collect();
        if fraction || exponent {
            // strconv.ParseFloat refuses what does not fit in a float64.
            if !text.parse::<f64>().is_ok_and(f64::is_finite) {
                return Err(self.error(self.pos(), "invalid float literal"));
            }
        } else if !valid_int(&text) {
            return Err(self.error(start_pos, "invalid int literal"));
        }
        if text.len() > 1 && !fraction && !exponent && text.chars().all(|c| c == '0') {
            self.out.push('0');
            self.out.extend(std::iter::repeat_n(' ', text.len() - 1));
        } else {
            self.out.extend(text.chars());
        }
        Ok(())
    }

    fn finish(mut self, error: Option<Diagnostic>) -> Lexed {
        let error_token = error.as_ref().map(|_| self.token_pos);
        if error.is_some() {
            self.out.truncate(self.token_out);
            self.to_rename.retain(|(index, ..)| *index < self.token_out);
        }
        let mut renames: BTreeMap<String, String> = BTreeMap::new();
        let mut taken = self.names.clone();
        for (_, name, (line, column)) in &self.to_rename {
            if !renames.contains_key(name) {
                let ours = fresh_name(name.chars().count(), &taken);
                self.warnings.push(
                    Diagnostic::warning(
                        "fidelity-identifier",
                        format!(
                            "Berth's engine takes only ASCII names other than `assert`: `{name}` runs as `{ours}`, \
                             which is what it shows where a value prints its name (a function's repr, dir())"
                        ),
                    )
                    .at(&self.source, *line, *column),
                );
                taken.insert(ours.clone());
                renames.insert(name.clone(), ours);
            }
        }
        for (index, name, _) in &self.to_rename {
            let ours = &renames[name];
            for (offset, c) in ours.chars().enumerate() {
                self.out[index + offset] = c;
            }
        }
        Lexed {
            text: self.out.into_iter().collect(),
            map: SourceMap {
                renames: renames.into_iter().map(|(theirs, ours)| (ours, theirs)).collect(),
                shifts: self.shifts,
            },
            error,
            error_token,
            warnings: self.warnings,
            nesting: self.deepest,
        }
    }
}

/// An ASCII identifier of `length` characters that is not in `taken` nor a name the scriptlet
/// could mean (universe and builtins are longer than the names tried first).
fn fresh_name(length: usize, taken: &BTreeSet<String>) -> String {
    const LETTERS: &str = "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba";
    let reserved = |name: &str| taken.contains(name) || super::super::builtin_names::is_known(name);
    if length == 1 {
        return LETTERS
            .chars()
            .map(String::from)
            .find(|name| !reserved(name))
            .unwrap_or_else(|| "_".into());
    }
    (0u64..)
        .map(|n| {
            let mut name = format!("_{n:0>width$}", width = length - 1);
            name.truncate(length);
            name
        })
        .find(|name| !reserved(name))
        .expect("an unused name")
}

/// go.starlark.net's identifier characters: `unicode.IsLetter` is the general category L
/// (not marks, as in Devanagari's virama, nor letter numbers like `Ⅻ`, which Rust's
/// `is_alphabetic` includes).
fn is_ident_start(c: char) -> bool {
    use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};
    c.is_ascii_alphabetic()
        || c == '_'
        || (!c.is_ascii() && c.general_category_group() == GeneralCategoryGroup::Letter)
}

fn is_ident(c: char) -> bool {
    c.is_ascii_digit() || is_ident_start(c)
}

/// Whether go.starlark.net decodes an integer literal: decimal and hex of any size (big
/// ints), octal and binary only within int64, and no `0`-led decimal other than zeros.
fn valid_int(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    if let Some(octal) = lower.strip_prefix("0o") {
        return i64::from_str_radix(octal, 8).is_ok();
    }
    if let Some(binary) = lower.strip_prefix("0b") {
        return i64::from_str_radix(binary, 2).is_ok();
    }
    if lower.starts_with("0x") {
        return true;
    }
    // strconv's base 0 reads a leading 0 as octal: only zeros survive (other octal-looking
    // literals were refused as obsolete before).
    !(text.len() > 1 && text.starts_with('0')) || text.chars().all(|c| c == '0')
}

/// quote.go's `unquote` for a non-raw literal's body: the error message, if any.
fn unquote(body: &[char], bytes: bool) -> Result<(), String> {
    let text = |chars: &[char]| chars.iter().collect::<String>();
    let mut i = 0;
    while i < body.len() {
        if body[i] != '\\' {
            i += 1;
            continue;
        }
        let rest = &body[i..];
        let Some(&next) = rest.get(1) else {
            return Err("truncated escape sequence \\".into());
        };
        match next {
            '\n' | '\r' | 'a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\' | '\'' | '"' => i += 2,
            '0'..='7' => {
                let mut value = 0u32;
                let mut length = 1;
                while length <= 3 && rest.get(length).is_some_and(|c| ('0'..='7').contains(c)) {
                    value = value * 8 + rest[length].to_digit(8).unwrap_or(0);
                    length += 1;
                }
                if !bytes && value > 127 {
                    return Err(format!(
                        "non-ASCII octal escape \\{value:o} (use \\u{value:04X} for the UTF-8 encoding of U+{value:04X})"
                    ));
                }
                if value >= 256 {
                    return Err(format!("invalid escape sequence \\{value:03o}"));
                }
                i += length;
            }
            'x' => {
                if rest.len() < 4 {
                    return Err(format!("truncated escape sequence {}", text(rest)));
                }
                let Some(value) = hex(&rest[2..4]) else {
                    return Err(format!("invalid escape sequence {}", text(&rest[..4])));
                };
                if !bytes && value > 127 {
                    return Err(format!(
                        "non-ASCII hex escape {} (use \\u{value:04X} for the UTF-8 encoding of U+{value:04X})",
                        text(&rest[..4])
                    ));
                }
                i += 4;
            }
            'u' | 'U' => {
                let size = if next == 'u' { 6 } else { 10 };
                if rest.len() < size {
                    return Err(format!("truncated escape sequence {}", text(rest)));
                }
                let escape = text(&rest[..size]);
                let Some(value) = hex(&rest[2..size]) else {
                    return Err(format!("invalid escape sequence {escape}"));
                };
                if value > 0x10FFFF {
                    return Err(format!("code point out of range: {escape} (max \\U{value:08x})"));
                }
                if (0xD800..0xE000).contains(&value) {
                    return Err(format!("invalid Unicode code point U+{value:04X}"));
                }
                i += size;
            }
            other => return Err(format!("invalid escape sequence \\{other}")),
        }
    }
    Ok(())
}

/// strconv.ParseUint(digits, 16, 0): hex digits only.
fn hex(digits: &[char]) -> Option<u64> {
    digits
        .iter()
        .try_fold(0u64, |value, c| Some(value * 16 + u64::from(c.to_digit(16)?)))
}

/// Go's `%q` of a rune.
fn quote_rune(c: char) -> String {
    let body = match c {
        '\'' => "\\'".to_owned(),
        '\\' => "\\\\".to_owned(),
        '\x07' => "\\a".to_owned(),
        '\x08' => "\\b".to_owned(),
        '\x0c' => "\\f".to_owned(),
        '\n' => "\\n".to_owned(),
        '\r' => "\\r".to_owned(),
        '\t' => "\\t".to_owned(),
        '\x0b' => "\\v".to_owned(),
        c if c == ' ' || !(c.is_control() || c.is_whitespace() || is_format(c)) => c.to_string(),
        c if (c as u32) < 0x80 => format!("\\x{:02x}", c as u32),
        c if (c as u32) < 0x10000 => format!("\\u{:04x}", c as u32),
        c => format!("\\U{:08x}", c as u32),
    };
    format!("'{body}'")
}

/// Invisible format characters Go does not print as they are.
fn is_format(c: char) -> bool {
    matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(source: &str) -> Option<String> {
        scan(source)
            .error
            .map(|e| format!("{}:{}: {}", e.line.unwrap(), e.column.unwrap(), e.message))
    }

    #[test]
    fn refuses_what_go_starlark_refuses_with_its_message_and_position() {
        assert_eq!(
            error("x = 1\n    y = '\\q'\n").as_deref(),
            Some("2:9: invalid escape sequence \\q")
        );
        assert_eq!(
            error("x = '\\xff'").as_deref(),
            Some("1:5: non-ASCII hex escape \\xff (use \\u00FF for the UTF-8 encoding of U+00FF)")
        );
        assert_eq!(error("x = b'\\xff\\377'"), None);
        assert_eq!(
            error("x = br'\\q'").as_deref(),
            Some("1:7: invalid escape sequence \\q")
        );
        assert_eq!(error("x = rb'\\q'"), None);
        assert_eq!(
            error("x = 017").as_deref(),
            Some("1:8: obsolete form of octal literal; use 0o17")
        );
        assert_eq!(error("x = 1e400").as_deref(), Some("1:10: invalid float literal"));
        assert_eq!(error("x = 0o8").as_deref(), Some("1:7: invalid octal literal"));
        assert_eq!(error("x = 0x").as_deref(), Some("1:5: invalid hex literal"));
        assert_eq!(
            error("x = 0o7777777777777777777777777").as_deref(),
            Some("1:5: invalid int literal")
        );
        assert_eq!(error("x = 0o777777777777777777777"), None);
        assert_eq!(
            error("x = 1 \\ 2").as_deref(),
            Some("1:8: stray backslash in program")
        );
        assert_eq!(
            error("x = \u{a0}1").as_deref(),
            Some("1:5: unexpected input character '\\u00a0'")
        );
        assert_eq!(
            error("x = '\\U00110000'").as_deref(),
            Some("1:5: code point out of range: \\U00110000 (max \\U00110000)")
        );
    }

    #[test]
    fn rewrites_what_only_go_starlark_accepts_keeping_lines_and_names() {
        let lexed = scan("déf = 00\nif x:\n\ty = assert\n");
        assert_eq!(lexed.error, None);
        let renamed: Vec<_> = lexed
            .warnings
            .iter()
            .map(|w| (w.code.clone(), w.line, w.column))
            .collect();
        let code = Some("fidelity-identifier".to_owned());
        assert_eq!(
            renamed,
            vec![(code.clone(), Some(1), Some(1)), (code, Some(3), Some(6))]
        );
        assert_eq!(lexed.text, "_00 = 0 \nif x:\n        y = _00000\n");
        assert_eq!(
            lexed.map.names("undefined: _00, _00000"),
            "undefined: déf, assert"
        );
        assert_eq!(lexed.map.column(3, 13), 6, "after the expanded tab");
        assert_eq!(lexed.map.column(1, 5), 5);
    }

    #[test]
    fn warns_of_raw_strings_whose_value_differs() {
        let lexed = scan("a = r'\\''\nb = r'\\d'\n");
        assert_eq!(lexed.error, None);
        let codes: Vec<_> = lexed.warnings.iter().map(|w| (w.code.clone(), w.line)).collect();
        assert_eq!(codes, vec![(Some("fidelity-raw-quote".to_owned()), Some(1))]);
    }

    #[test]
    fn measures_how_deep_expressions_chain() {
        assert_eq!(
            scan("x = [[[1]]]\n").nesting,
            Nesting {
                brackets: 3,
                operators: 4
            }
        );
        let chain = scan(&format!("x = 1{}\ny = [1, 2]\n", " + 1".repeat(1000))).nesting;
        assert_eq!(
            chain,
            Nesting {
                brackets: 0,
                operators: 1001
            }
        );
        // Siblings do not add up: each element of a list starts a new chain.
        let siblings = scan(&format!("x = [{}]\n", "1 + 1, ".repeat(1000))).nesting;
        assert_eq!(
            siblings,
            Nesting {
                brackets: 1,
                operators: 3
            }
        );
    }
}
