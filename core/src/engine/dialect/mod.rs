//! Incus's dialect of Starlark: what go.starlark.net, configured as Incus configures it,
//! refuses when a scriptlet is set, where the `starlark` crate answers differently or has no
//! switch. The source is scanned as go.starlark.net scans it ([`lexical`]) and parsed once;
//! the checks and the fidelity lints then share the [`Parsed`] scriptlet.

pub mod entry_point;
pub mod globals;
pub mod lexical;
pub mod names;

use starlark::codemap::Span;
use starlark::syntax::{AstModule, Dialect, DialectTypes};

use super::diagnostic::{diagnose, Diagnostic, ErrorKind};
use super::syntax_walk;
use super::FILE_NAME;
use lexical::SourceMap;

/// A scriptlet parsed once, with the way back to the author's source.
pub struct Parsed<'s> {
    pub ast: AstModule,
    pub source: &'s str,
    pub map: SourceMap,
    /// Literal values that differ between the dialects (from the scanner).
    pub lexical_warnings: Vec<Diagnostic>,
}

impl Parsed<'_> {
    /// The 1-based line and column in the author's source of a span of the AST.
    pub fn position(&self, span: Span) -> (usize, usize) {
        let (line, column) = syntax_walk::position(&self.ast, span);
        (line, self.map.column(line, column))
    }

    /// `diagnostic` placed at `span`.
    pub fn at(&self, diagnostic: Diagnostic, span: Span) -> Diagnostic {
        let (line, column) = self.position(span);
        diagnostic.at(self.source, line, column)
    }
}

/// Parses `source` as Incus does: go.starlark.net's scanner first (its first lexical error,
/// unless the parser stopped at an earlier place), then the crate's parser.
#[cfg(test)]
pub fn parse(source: &str) -> Result<Parsed<'_>, Diagnostic> {
    parse_scanned(source, lexical::scan(source))
}

/// [`parse`] after the scan (whose nesting sizes the stack the parse needs).
pub fn parse_scanned(source: &str, lexed: lexical::Lexed) -> Result<Parsed<'_>, Diagnostic> {
    let parsed = AstModule::parse(FILE_NAME, lexed.text, &dialect());
    match (parsed, lexed.error) {
        (Ok(ast), None) => Ok(Parsed {
            ast,
            source,
            map: lexed.map,
            lexical_warnings: lexed.warnings,
        }),
        (Ok(_), Some(lexical)) => Err(lexical),
        (Err(error), lexical) => {
            let syntax = lexed.map.translate(diagnose(&error, ErrorKind::Syntax), source);
            // The crate parsed the text before the lexical error's token: an error strictly
            // before that token is one go.starlark.net's parser reports first.
            let earlier = |token: (usize, usize)| matches!((syntax.line, syntax.column), (Some(line), Some(column)) if (line, column) < token);
            Err(match (lexical, lexed.error_token) {
                (Some(lexical), Some(token)) if !earlier(token) => lexical,
                _ => syntax,
            })
        }
    }
}

/// The crate's switches set to Incus's dialect; the rest is checked here.
pub fn dialect() -> Dialect {
    Dialect {
        enable_def: true,
        enable_lambda: true,
        enable_load: false,
        enable_keyword_only_arguments: true,
        enable_positional_only_arguments: false,
        enable_types: DialectTypes::Disable,
        enable_load_reexport: false,
        enable_top_level_stmt: false,
        enable_f_strings: false,
        ..Dialect::Standard
    }
}
