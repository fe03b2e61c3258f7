//! What the engine tells an author: errors and warnings with a 1-based position and a
//! rendered snippet of the source.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_line_with_a_caret() {
        let diagnostic = Diagnostic::error(ErrorKind::Syntax, "boom").at("a = 1\nbb = oops\n", 2, 6);
        assert_eq!(diagnostic.rendered, "  |\n2 | bb = oops\n  |      ^");
        assert_eq!(diagnostic.to_line("x.star"), "x.star:2:6: boom");
    }
}
