//! What the engine tells an author: errors and warnings with a 1-based position and a
//! rendered snippet of the source, and the translation of the `starlark` crate's errors into
//! them.

use serde::{Deserialize, Serialize};

/// Why a scriptlet was refused or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The source does not parse, or uses a construct Incus's dialect lacks.
    Syntax,
    /// It parses but Incus would refuse it when set (names, globals, entry point, top level).
    Validation,
    /// Evaluation raised an error (including builtin errors and bad `set_target`).
    Runtime,
    /// The scriptlet called `fail()`.
    Fail,
    /// `instance_placement` returned something other than `None`.
    ReturnValue,
    /// A bound Incus lacks, set by Berth: steps, heap, call depth, time.
    StepLimit,
    HeapLimit,
    StackOverflow,
    Timeout,
    /// The evaluation process died (memory limit) or the engine failed.
    MemoryLimit,
    Internal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// For errors; warnings have `None`.
    pub kind: Option<ErrorKind>,
    /// A short code for warnings (`fidelity-shift`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub message: String,
    /// 1-based; `None` when the problem has no place in the source (e.g. a missing function).
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The source line(s) with a caret under the place, or a traceback.
    pub rendered: String,
}

impl Diagnostic {
    pub fn error(kind: ErrorKind, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            kind: Some(kind),
            code: None,
            message: message.into(),
            line: None,
            column: None,
            rendered: String::new(),
        }
    }

    pub fn warning(code: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            kind: None,
            code: Some(code.to_owned()),
            message: message.into(),
            line: None,
            column: None,
            rendered: String::new(),
        }
    }

    /// Places the diagnostic at a 1-based line and column of `source` and renders the line.
    pub fn at(mut self, source: &str, line: usize, column: usize) -> Diagnostic {
        self.line = Some(line);
        self.column = Some(column);
        self.rendered = render(source, line, column);
        self
    }

    /// `FILE:LINE:COL: message` (or `FILE: message` without a position), as `berth check` prints.
    pub fn to_line(&self, file: &str) -> String {
        let prefix = match (self.line, self.column) {
            (Some(line), Some(column)) => format!("{file}:{line}:{column}"),
            _ => file.to_owned(),
        };
        match self.severity {
            Severity::Error => format!("{prefix}: {}", self.message),
            Severity::Warning => format!("{prefix}: warning: {}", self.message),
        }
    }
}

/// The source line with a caret under `column` (both 1-based).
fn render(source: &str, line: usize, column: usize) -> String {
    let Some(text) = source.lines().nth(line.saturating_sub(1)) else {
        return String::new();
    };
    let gutter = line.to_string();
    let pad = " ".repeat(gutter.len());
    let caret_pad: String = text
        .chars()
        .take(column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    format!("{pad} |\n{gutter} | {text}\n{pad} | {caret_pad}^")
}

/// An error from the `starlark` crate as a diagnostic: its kind, the message without the
/// crate's decoration (in Incus's words where only the wording differs), the innermost
/// position, and the rendered snippet or traceback.
pub fn diagnose(error: &starlark::Error, default: ErrorKind) -> Diagnostic {
    use starlark::ErrorKind as Starlark;
    let message = incus_wording(&error.without_diagnostic().to_string());
    let kind = match error.kind() {
        Starlark::Parser(_) => ErrorKind::Syntax,
        Starlark::Fail(_) => ErrorKind::Fail,
        Starlark::StackOverflow(_) => ErrorKind::StackOverflow,
        Starlark::Scope(_) => ErrorKind::Validation,
        _ if message.contains("ticks has been exceeded") => ErrorKind::StepLimit,
        _ if message.contains("Heap memory limit") => ErrorKind::HeapLimit,
        _ if message.contains("Evaluation cancelled") => ErrorKind::Timeout,
        _ => default,
    };
    let mut diagnostic = Diagnostic::error(kind, message);
    if let Some(span) = error.span() {
        let begin = span.resolve_span().begin;
        diagnostic.line = Some(begin.line + 1);
        diagnostic.column = Some(begin.column + 1);
    }
    // The crate renders the snippet (or the traceback) itself.
    diagnostic.rendered = error.to_string();
    diagnostic
}

/// The `starlark` crate's message for what Incus refuses, in go.starlark.net's words where
/// they differ only in wording, so authors see what `incus config set` would print.
fn incus_wording(message: &str) -> String {
    let fixed = [
        (
            "Parse error: cannot use reserved keyword `while`",
            "this Starlark dialect does not support while loops",
        ),
        (
            "`for` cannot be used outside `def` in this dialect",
            "for loop not within a function",
        ),
        (
            "`if` cannot be used outside `def` in this dialect",
            "if statement not within a function",
        ),
        (
            "`load` is not allowed in this dialect",
            "load not implemented by this application",
        ),
        (
            "`...` is not allowed in this dialect",
            "got '.', want primary expression",
        ),
    ];
    if let Some((_, incus)) = fixed.iter().find(|(ours, _)| message == *ours) {
        return (*incus).to_owned();
    }
    // "Variable `x` not found, did you mean `y`?" -> "undefined: x"
    if let Some(rest) = message.strip_prefix("Variable `") {
        if let Some((name, _)) = rest.split_once("` not found") {
            return if name == "set" {
                "this Starlark dialect does not support sets".to_owned()
            } else {
                format!("undefined: {name}")
            };
        }
    }
    message.to_owned()
}

/// A panic inside the `starlark` crate as a diagnostic: the memory limit when the crate's heap
/// could not get memory (its arena allocator panics with "out of memory" when the sandbox's
/// limit refuses a chunk, where the global allocator would abort the worker), else an internal
/// error with the panic's message.
pub fn panic_diagnostic(panic: &Box<dyn std::any::Any + Send>) -> Diagnostic {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    if detail == "out of memory" {
        return Diagnostic::error(
            ErrorKind::MemoryLimit,
            "scriptlet exceeded its memory limit (an allocation was refused)",
        );
    }
    Diagnostic::error(
        ErrorKind::Internal,
        format!("the scriptlet engine failed: {detail}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allocation_the_memory_limit_refused_is_the_memory_limit() {
        let refused: Box<dyn std::any::Any + Send> = Box::new("out of memory");
        assert_eq!(panic_diagnostic(&refused).kind, Some(ErrorKind::MemoryLimit));
        let bug: Box<dyn std::any::Any + Send> = Box::new(String::from("index out of bounds"));
        let diagnostic = panic_diagnostic(&bug);
        assert_eq!(diagnostic.kind, Some(ErrorKind::Internal));
        assert_eq!(
            diagnostic.message,
            "the scriptlet engine failed: index out of bounds"
        );
    }

    #[test]
    fn renders_the_line_with_a_caret() {
        let diagnostic = Diagnostic::error(ErrorKind::Syntax, "boom").at("a = 1\nbb = oops\n", 2, 6);
        assert_eq!(diagnostic.rendered, "  |\n2 | bb = oops\n  |      ^");
        assert_eq!(diagnostic.to_line("x.star"), "x.star:2:6: boom");
    }
}
