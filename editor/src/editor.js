// Berth policy editor: CodeMirror 6 bundled into one ES module that the
// Leptos/wasm front end imports as `/pkg/editor.js`. Everything that crosses
// the wasm-bindgen boundary is a DOM element, string, number, boolean or JS
// function; structured data arrives as JSON strings.

import { EditorState, Compartment, StateField, StateEffect, Prec, RangeSet } from "@codemirror/state";
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
  drawSelection, dropCursor, highlightSpecialChars, showPanel, gutter, GutterMarker, Decoration,
} from "@codemirror/view";
import {
  defaultKeymap, history, historyKeymap, indentWithTab, temporarilySetTabFocusMode,
} from "@codemirror/commands";
import {
  LanguageSupport, StreamLanguage, syntaxHighlighting, HighlightStyle, indentOnInput, indentUnit,
  bracketMatching, foldGutter, foldKeymap, foldService,
} from "@codemirror/language";
import { lintGutter, lintKeymap, setDiagnostics as lintSetDiagnostics } from "@codemirror/lint";
import { python } from "@codemirror/legacy-modes/mode/python";
import { tags as t } from "@lezer/highlight";

// ---------------------------------------------------------------- theme

// Colours come from the page's CSS variables (light/dark via
// prefers-color-scheme), so the editor follows the app theme without JS.
// Two extra syntax colours are defined here, per scheme.
const theme = EditorView.theme({
  "&": {
    height: "100%",
    fontSize: "13px",
    color: "var(--text)",
    backgroundColor: "var(--panel)",
  },
  "& .cm-content": { "--berth-cm-fn": "#7a3fc4", "--berth-cm-prop": "#0b7285" },
  "@media (prefers-color-scheme: dark)": {
    ".cm-content": { "--berth-cm-fn": "#c4a2ff", "--berth-cm-prop": "#5cc8d6" },
  },
  "&.cm-focused": { outline: "2px solid var(--accent)", outlineOffset: "-2px" },
  ".cm-scroller": { overflow: "auto", fontFamily: "var(--mono)", lineHeight: "1.5" },
  ".cm-content": { caretColor: "var(--text)" },
  ".cm-cursor, .cm-dropCursor": { borderLeftColor: "var(--text)" },
  "&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground, .cm-content ::selection":
    { backgroundColor: "var(--accent-soft)" },
  "&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground":
    { backgroundColor: "var(--accent-soft)", outline: "1px solid var(--accent)" },
  ".cm-activeLine": { backgroundColor: "color-mix(in srgb, var(--accent-soft) 45%, transparent)" },
  ".cm-selectionMatch": { backgroundColor: "color-mix(in srgb, var(--accent) 22%, transparent)" },
  "&.cm-focused .cm-matchingBracket": {
    backgroundColor: "color-mix(in srgb, var(--ok) 25%, transparent)", outline: "1px solid var(--ok)",
  },
  "&.cm-focused .cm-nonmatchingBracket": {
    backgroundColor: "color-mix(in srgb, var(--crit) 25%, transparent)",
  },
  ".cm-gutters": {
    backgroundColor: "var(--panel-2)",
    color: "var(--muted)",
    borderRight: "1px solid var(--border)",
  },
  ".cm-activeLineGutter": { backgroundColor: "var(--accent-soft)", color: "var(--text)" },
  ".cm-foldPlaceholder": {
    backgroundColor: "var(--panel-2)", border: "1px solid var(--border)", color: "var(--muted)",
  },
  // The options panel under the text (Tab indents).
  ".cm-berth-options": {
    display: "flex", gap: "1em", alignItems: "center", padding: "3px 8px", fontSize: "12px",
    fontFamily: "var(--font)",
  },
  ".cm-berth-options label": { display: "inline-flex", gap: "4px", alignItems: "center", whiteSpace: "nowrap" },
  ".cm-berth-hint": { color: "var(--muted)" },
  // Panels (search).
  ".cm-panels": { backgroundColor: "var(--panel-2)", color: "var(--text)" },
  ".cm-panels.cm-panels-top": { borderBottom: "1px solid var(--border)" },
  ".cm-panels.cm-panels-bottom": { borderTop: "1px solid var(--border)" },
  ".cm-textfield": {
    backgroundColor: "var(--panel)", color: "var(--text)", border: "1px solid var(--border)",
    borderRadius: "var(--radius)",
  },
  ".cm-button": {
    backgroundImage: "none", backgroundColor: "var(--panel)", color: "var(--text)",
    border: "1px solid var(--border)", borderRadius: "var(--radius)",
  },
  ".cm-searchMatch": {
    backgroundColor: "color-mix(in srgb, var(--warn) 30%, transparent)",
    outline: "1px solid var(--warn)",
  },
  ".cm-searchMatch.cm-searchMatch-selected": {
    backgroundColor: "color-mix(in srgb, var(--accent) 35%, transparent)",
  },
  // Tooltips and completion.
  ".cm-tooltip": {
    backgroundColor: "var(--panel)", color: "var(--text)", border: "1px solid var(--border)",
    borderRadius: "var(--radius)", boxShadow: "0 4px 14px rgba(0,0,0,.18)",
  },
  ".cm-tooltip .cm-tooltip-arrow:before": { borderTopColor: "var(--border)", borderBottomColor: "var(--border)" },
  ".cm-tooltip .cm-tooltip-arrow:after": { borderTopColor: "var(--panel)", borderBottomColor: "var(--panel)" },
  ".cm-tooltip.cm-tooltip-autocomplete > ul": { fontFamily: "var(--mono)", maxHeight: "16em" },
  ".cm-tooltip.cm-tooltip-autocomplete > ul > li": { padding: "1px 6px" },
  ".cm-tooltip-autocomplete ul li[aria-selected]": {
    backgroundColor: "var(--accent-soft)", color: "var(--text)",
  },
  ".cm-completionDetail": { color: "var(--muted)", fontStyle: "normal", marginLeft: "1.2em" },
  ".cm-completionMatchedText": { textDecoration: "none", fontWeight: "600", color: "var(--accent)" },
  ".cm-tooltip.cm-completionInfo": {
    maxWidth: "28em", padding: "6px 9px", whiteSpace: "pre-wrap", fontFamily: "var(--font, inherit)",
    fontSize: "12px", lineHeight: "1.45",
  },
  // Lint. The stock lint theme draws underlines and gutter markers with
  // data: SVG images, which `img-src 'self'` blocks; use plain CSS instead.
  ".cm-lintRange": { backgroundImage: "none", paddingBottom: "0" },
  ".cm-lintRange-error": { backgroundImage: "none", textDecoration: "underline wavy var(--crit)", textDecorationSkipInk: "none", textUnderlineOffset: "3px" },
  ".cm-lintRange-warning": { backgroundImage: "none", textDecoration: "underline wavy var(--warn)", textDecorationSkipInk: "none", textUnderlineOffset: "3px" },
  ".cm-lintRange-info": { backgroundImage: "none", textDecoration: "underline dotted var(--muted)", textUnderlineOffset: "3px" },
  ".cm-lintRange-hint": { backgroundImage: "none", textDecoration: "underline dotted var(--muted)", textUnderlineOffset: "3px" },
  ".cm-lintRange-active": { backgroundColor: "color-mix(in srgb, var(--warn) 25%, transparent)" },
  ".cm-lintPoint:after": { borderBottomColor: "var(--crit)" },
  ".cm-lintPoint-warning:after": { borderBottomColor: "var(--warn)" },
  ".cm-lintPoint-info:after, .cm-lintPoint-hint:after": { borderBottomColor: "var(--muted)" },
  ".cm-diagnostic": { fontFamily: "var(--mono)", fontSize: "12px" },
  ".cm-diagnostic-error": { borderLeft: "4px solid var(--crit)" },
  ".cm-diagnostic-warning": { borderLeft: "4px solid var(--warn)" },
  ".cm-diagnostic-info, .cm-diagnostic-hint": { borderLeft: "4px solid var(--muted)" },
  ".cm-gutter-lint": { width: "1.1em" },
  ".cm-gutter-lint .cm-gutterElement": { padding: "0 0 0 .15em" },
  ".cm-lint-marker": {
    content: "normal", display: "inline-block", boxSizing: "border-box",
    width: ".75em", height: ".75em", marginTop: ".35em", verticalAlign: "top",
  },
  ".cm-lint-marker-error": { content: "normal", backgroundColor: "var(--crit)", borderRadius: "50%" },
  ".cm-lint-marker-warning": {
    content: "normal", backgroundColor: "var(--warn)", clipPath: "polygon(50% 0, 100% 100%, 0 100%)",
  },
  ".cm-lint-marker-info": { content: "normal", backgroundColor: "var(--muted)", borderRadius: "2px" },
  ".cm-panel.cm-panel-lint ul [aria-selected]": { backgroundColor: "var(--accent-soft)" },
  // Coverage: a bar per executable line, filled where it ran, hollow where it never did;
  // never-run lines tinted too (colour is not the only cue: the bars differ in shape).
  ".cm-gutter-coverage": { width: "6px" },
  ".cm-gutter-coverage .cm-gutterElement": { padding: "0" },
  ".cm-coverage-marker": {
    display: "inline-block", boxSizing: "border-box", width: "4px", height: "1.1em",
    marginTop: ".2em", verticalAlign: "top",
  },
  ".cm-coverage-run": { backgroundColor: "var(--ok)" },
  ".cm-coverage-unrun": { border: "1px solid var(--crit)", backgroundColor: "transparent" },
  ".cm-line.cm-unrun-line": { backgroundColor: "color-mix(in srgb, var(--crit) 9%, transparent)" },
});

const highlightStyle = HighlightStyle.define([
  { tag: [t.keyword, t.controlKeyword, t.definitionKeyword, t.moduleKeyword, t.operatorKeyword],
    color: "var(--accent)", fontWeight: "600" },
  { tag: [t.bool, t.null, t.atom, t.self], color: "var(--warn)", fontWeight: "600" },
  { tag: [t.number, t.integer, t.float], color: "var(--warn)" },
  { tag: [t.string, t.special(t.string), t.regexp], color: "var(--ok)" },
  { tag: t.escape, color: "var(--ok)", fontWeight: "600" },
  { tag: [t.comment, t.lineComment, t.blockComment, t.docComment], color: "var(--muted)", fontStyle: "italic" },
  { tag: [t.function(t.variableName), t.function(t.definition(t.variableName)), t.definition(t.function(t.variableName)),
    t.definition(t.variableName), t.standard(t.variableName), t.className],
    color: "var(--berth-cm-fn)" },
  { tag: [t.propertyName, t.function(t.propertyName)], color: "var(--berth-cm-prop)" },
  { tag: [t.operator, t.punctuation, t.bracket, t.separator], color: "var(--muted)" },
  { tag: t.invalid, color: "var(--crit)" },
]);

// ---------------------------------------------------------------- schema

// The completion schema of the Incus version the sandbox imitates, as the server sends it
// (completion indexes it, in editor-completion.js).
const schemaEffect = StateEffect.define();
const schemaField = StateField.define({
  create: () => null,
  update(value, tr) {
    for (const e of tr.effects) if (e.is(schemaEffect)) value = e.value;
    return value;
  },
});

// ---------------------------------------------------------------- language

// Starlark is Python's syntax: CodeMirror's Python mode, a tokenizer (a sixth of the size of the
// Lezer grammar, for a page within issue 22's weight budget), with one change: after `return`
// or `pass` Enter keeps the block's depth, as after any other line (the mode would dedent
// there); the author types dedents, one Backspace per level.
const starlark = StreamLanguage.define({
  ...python,
  name: "starlark",
  token(stream, state) {
    const depth = state.scopes.length;
    const block = state.scopes[depth - 1];
    const style = python.token(stream, state);
    // The mode closes the block at a line's end after `return` or `pass` (`dedent`): reopened.
    if (state.dedent && state.scopes.length === depth - 1) state.scopes.push(block);
    state.dedent = false;
    return style;
  },
});

const leadingWidth = (text) => /^[ \t]*/.exec(text)[0].replace(/\t/g, "    ").length;

// A block folds from its `:` to its last line indented deeper than the line that opens it.
const foldBlocks = foldService.of((state, from) => {
  const line = state.doc.lineAt(from);
  if (!/:\s*(#.*)?$/.test(line.text)) return null;
  const depth = leadingWidth(line.text);
  let end = null;
  for (let n = line.number + 1; n <= state.doc.lines; n++) {
    const next = state.doc.line(n);
    if (!/\S/.test(next.text)) continue;
    if (leadingWidth(next.text) <= depth) break;
    end = next.to;
  }
  return end === null ? null : { from: line.to, to: end };
});

// ---------------------------------------------------------------- indentation

/** The indentation unit a scriptlet uses: the most common step by which a line is indented
 *  more than the non-blank line before it (a tab if lines start with tabs), else 4 spaces. */
export function detectIndentUnit(text) {
  const steps = new Map();
  let previous = 0;
  let tabs = 0;
  for (const line of String(text || "").split("\n")) {
    if (!/\S/.test(line)) continue;
    const lead = /^[ \t]*/.exec(line)[0];
    if (lead.startsWith("\t")) tabs++;
    const width = lead.replace(/\t/g, "    ").length;
    const step = width - previous;
    if (step > 0 && step <= 8) steps.set(step, (steps.get(step) || 0) + 1);
    previous = width;
  }
  if (tabs > 0) return "\t";
  let best = 4;
  let count = 0;
  for (const [step, seen] of steps) {
    if (seen > count || (seen === count && step < best)) [best, count] = [step, seen];
  }
  return " ".repeat(best);
}

const indentCompartment = new Compartment();

// Completion, closing brackets and search come when the editor first takes the focus
// (editor-editing.js): a reader does not load them.
const editingCompartment = new Compartment();
let editingModule;
const equipped = new WeakSet();

function loadEditing(view) {
  if (equipped.has(view)) return;
  equipped.add(view);
  editingModule ??= import("./editor-editing.js");
  editingModule.then((features) => {
    if (!view.dom.isConnected) return;
    view.dispatch({ effects: editingCompartment.reconfigure(features.editingExtensions(schemaField)) });
    features.catchUp(view);
  }, (error) => {
    // Tried again at the next focus.
    equipped.delete(view);
    editingModule = undefined;
    console.warn("the editor's completion and search could not be loaded:", error);
  });
}

// Tab/Shift-Tab indent the selected lines only when the user opts in (a checkbox under the
// editor, remembered in this browser): Tab otherwise moves the focus on, as on the rest of the
// page. With it on, Escape then Tab still leaves the editor (CodeMirror's tab focus mode).
const TAB_INDENTS_KEY = "berth.editor.tabIndents";
const tabCompartment = new Compartment();

function storedTabIndents() {
  try { return window.localStorage.getItem(TAB_INDENTS_KEY) === "true"; } catch (e) { return false; }
}

// Escape always arms CodeMirror's tab focus mode, also when another Escape binding takes the key
// (a selection simplified, a completion closed): "Escape then Tab" leaves in every state.
function escapeArmsTabFocus(view) {
  temporarilySetTabFocusMode(view);
  return false;
}

function tabKeymap(on) {
  if (!on) return [];
  return [Prec.highest(keymap.of([{ key: "Escape", run: escapeArmsTabFocus }])), keymap.of([indentWithTab])];
}

function tabIndentsPanel(view) {
  const dom = document.createElement("div");
  dom.className = "cm-berth-options";
  const label = document.createElement("label");
  const box = document.createElement("input");
  box.type = "checkbox";
  box.checked = storedTabIndents();
  box.dataset.test = "tab-indents";
  label.append(box, " Tab indents");
  const hint = document.createElement("span");
  hint.className = "cm-berth-hint";
  const explain = () => {
    hint.textContent = box.checked
      ? "Tab / Shift-Tab indent the selected lines; Escape then Tab leaves the editor."
      : "Tab moves to the next control; Enter keeps the block's indentation.";
  };
  explain();
  box.addEventListener("change", () => {
    try { window.localStorage.setItem(TAB_INDENTS_KEY, String(box.checked)); } catch (e) { /* kept for this page */ }
    explain();
    view.dispatch({ effects: tabCompartment.reconfigure(tabKeymap(box.checked)) });
  });
  dom.append(label, hint);
  return { dom, top: false };
}


// ---------------------------------------------------------------- coverage

class CoverageMarker extends GutterMarker {
  constructor(ran) { super(); this.ran = ran; }
  eq(other) { return other.ran === this.ran; }
  toDOM() {
    const mark = document.createElement("span");
    mark.className = "cm-coverage-marker " + (this.ran ? "cm-coverage-run" : "cm-coverage-unrun");
    mark.title = this.ran ? "ran" : "never ran";
    mark.setAttribute("data-coverage", this.ran ? "run" : "unrun");
    return mark;
  }
}
const RAN = new CoverageMarker(true);
const NEVER_RAN = new CoverageMarker(false);
const unrunLine = Decoration.line({ class: "cm-unrun-line" });

const coverageEffect = StateEffect.define();
// The markers, kept where their lines go as the text is edited.
const coverageField = StateField.define({
  create: () => ({ markers: RangeSet.empty, lines: Decoration.none }),
  update(value, tr) {
    for (const e of tr.effects) if (e.is(coverageEffect)) return e.value;
    if (!tr.docChanged) return value;
    return { markers: value.markers.map(tr.changes), lines: value.lines.map(tr.changes) };
  },
  provide: (field) => EditorView.decorations.from(field, (value) => value.lines),
});

function coverageOf(doc, run, unrun) {
  const marks = [], tints = [];
  const add = (lines, marker) => {
    for (const n of Array.isArray(lines) ? lines : []) {
      const number = Math.floor(Number(n));
      if (!(number >= 1 && number <= doc.lines)) continue;
      const from = doc.line(number).from;
      marks.push(marker.range(from));
      if (marker === NEVER_RAN) tints.push(unrunLine.range(from));
    }
  };
  add(run, RAN);
  add(unrun, NEVER_RAN);
  return {
    markers: RangeSet.of(marks, true),
    lines: Decoration.set(tints, true),
  };
}

const coverageGutter = gutter({
  class: "cm-gutter-coverage",
  markers: (view) => view.state.field(coverageField).markers,
});

// ---------------------------------------------------------------- helpers

const readOnlyCompartment = new Compartment();

function readOnlyExt(ro) {
  ro = !!ro;
  return [
    EditorState.readOnly.of(ro),
    EditorView.editable.of(!ro),
    // The Tab choice matters only to someone who may type.
    ro ? [] : showPanel.of(tabIndentsPanel),
  ];
}

// 1-based line/column (column in Unicode code points) → document offset, clamped.
function toOffset(doc, line, column) {
  const ln = doc.line(Math.min(Math.max(1, Math.floor(Number(line)) || 1), doc.lines));
  let col = Math.max(1, Math.floor(Number(column)) || 1) - 1;
  let off = 0;
  const text = ln.text;
  while (col > 0 && off < text.length) {
    off += text.codePointAt(off) > 0xffff ? 2 : 1;
    col--;
  }
  return { line: ln, pos: ln.from + off };
}

const WORD = /[\p{L}\p{N}_]/u;

function diagnosticRange(doc, d) {
  if (d.line == null) {
    const first = doc.line(1);
    return { from: 0, to: first.to > 0 ? first.to : Math.min(1, doc.length) };
  }
  if (d.column == null) {
    const { line } = toOffset(doc, d.line, 1);
    const lead = /^\s*/.exec(line.text)[0].length;
    const text = line.text.trimEnd();
    if (text.length > lead) return { from: line.from + lead, to: line.from + text.length };
    return { from: line.from, to: line.to };
  }
  const { line, pos } = toOffset(doc, d.line, d.column);
  if (line.length === 0) return { from: pos, to: pos };
  if (pos >= line.to) {
    const last = line.text.codePointAt(line.length - 1);
    const w = line.length >= 2 && last >= 0xdc00 && last <= 0xdfff ? 2 : 1;
    return { from: line.to - w, to: line.to };
  }
  let end = pos;
  const text = line.text;
  while (end - line.from < text.length) {
    const ch = String.fromCodePoint(text.codePointAt(end - line.from));
    if (!WORD.test(ch)) break;
    end += ch.length;
  }
  if (end === pos) end = pos + String.fromCodePoint(text.codePointAt(pos - line.from)).length;
  return { from: pos, to: end };
}

// ---------------------------------------------------------------- API

export function createEditor(parent, doc, readOnly, nonce, onChange) {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  const extensions = [
    lineNumbers(),
    foldGutter(),
    lintGutter(),
    coverageField,
    coverageGutter,
    highlightActiveLineGutter(),
    highlightSpecialChars(),
    history(),
    drawSelection(),
    dropCursor(),
    EditorState.allowMultipleSelections.of(true),
    // Python's indentation rules (Starlark is Python's syntax): Enter keeps the block's
    // indentation and indents after a `:`; `else:`/`elif` dedent as typed; Backspace in leading
    // whitespace removes one unit (CodeMirror's deleteCharBackward).
    indentCompartment.of(indentUnit.of(detectIndentUnit(doc))),
    indentOnInput(),
    new LanguageSupport(starlark, [foldBlocks]),
    syntaxHighlighting(highlightStyle),
    bracketMatching(),
    // Before the completion's keymap (in the editing features), whose Escape closes an open
    // completion and would keep Escape from arming the tab focus mode.
    tabCompartment.of(tabKeymap(storedTabIndents())),
    editingCompartment.of([]),
    EditorView.domEventHandlers({ focus: (event, view) => { loadEditing(view); } }),
    highlightActiveLine(),
    keymap.of([...defaultKeymap, ...historyKeymap, ...foldKeymap, ...lintKeymap]),
    schemaField,
    readOnlyCompartment.of(readOnlyExt(readOnly)),
    // Named for screen readers; in the tab order also when read-only, so the scrolling text is
    // reachable from the keyboard (and counts as the scroller's focusable content).
    EditorView.contentAttributes.of({ "aria-label": "Scriptlet source (Starlark)", tabindex: "0" }),
    theme,
  ];
  if (nonce) extensions.push(EditorView.cspNonce.of(String(nonce)));
  if (typeof onChange === "function") {
    extensions.push(EditorView.updateListener.of((u) => {
      if (u.docChanged) onChange(u.state.doc.toString());
    }));
  }
  return new EditorView({
    parent,
    state: EditorState.create({ doc: doc == null ? "" : String(doc), extensions }),
  });
}

export function setDoc(view, text) {
  text = text == null ? "" : String(text);
  if (text === view.state.doc.toString()) return;
  view.dispatch({
    changes: { from: 0, to: view.state.doc.length, insert: text },
    effects: indentCompartment.reconfigure(indentUnit.of(detectIndentUnit(text))),
  });
}

export function getDoc(view) {
  return view.state.doc.toString();
}

export function setReadOnly(view, readOnly) {
  view.dispatch({ effects: readOnlyCompartment.reconfigure(readOnlyExt(readOnly)) });
}

export function setDiagnostics(view, json) {
  let list;
  try { list = typeof json === "string" ? JSON.parse(json || "[]") : json; } catch (e) { list = []; }
  if (!Array.isArray(list)) list = [];
  const doc = view.state.doc;
  const diagnostics = [];
  for (const d of list) {
    if (!d) continue;
    const { from, to } = diagnosticRange(doc, d);
    const severity = ["error", "warning", "info", "hint"].includes(d.severity) ? d.severity : "error";
    const message = (d.code ? `[${d.code}] ` : "") + String(d.message == null ? "" : d.message);
    diagnostics.push({ from, to, severity, message, source: "berth" });
  }
  diagnostics.sort((a, b) => a.from - b.from || a.to - b.to);
  view.dispatch(lintSetDiagnostics(view.state, diagnostics));
}

export function setSchema(view, json) {
  let schema = null;
  try { schema = typeof json === "string" ? JSON.parse(json) : json; } catch (e) { schema = null; }
  view.dispatch({ effects: schemaEffect.of(schema) });
}

// Marks the lines a run covered: {"run": [line…], "unrun": [line…]} (1-based); anything
// else (an empty string) clears the marks.
export function setCoverage(view, json) {
  let coverage = null;
  try { coverage = typeof json === "string" ? (json ? JSON.parse(json) : null) : json; } catch (e) { coverage = null; }
  const value = coverage && typeof coverage === "object"
    ? coverageOf(view.state.doc, coverage.run, coverage.unrun)
    : { markers: RangeSet.empty, lines: Decoration.none };
  view.dispatch({ effects: coverageEffect.of(value) });
}

export function goTo(view, line, column) {
  const { pos } = toOffset(view.state.doc, line, column);
  view.dispatch({
    selection: { anchor: pos },
    effects: EditorView.scrollIntoView(pos, { y: "center" }),
  });
  view.focus();
}

export function destroy(view) {
  if (view) view.destroy();
}
