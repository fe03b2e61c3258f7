// The editor's editing features, a module of its own that the editor imports when it first
// takes the focus (editor.js, `loadEditing`): completion (editor-completion.js) and closing
// brackets, search and the highlighting of a selection's other matches. Someone who only reads a scriptlet never loads
// them (issue 22's weight budget).

import { Prec } from "@codemirror/state";
import { keymap } from "@codemirror/view";
import { insertNewlineAndIndent } from "@codemirror/commands";
import { searchKeymap, highlightSelectionMatches } from "@codemirror/search";
import {
  autocompletion, completionKeymap, closeBrackets, closeBracketsKeymap, completionStatus,
  selectedCompletion, closeCompletion, startCompletion,
} from "@codemirror/autocomplete";
import { starlarkCompletions } from "./editor-completion.js";

// Enter with a completion open accepts it only when it completes the word being typed (`reas`
// → `reason`); after a whole word (`return`, `None`) or one the option merely resembles (`count`
// against `get_instances_count`) Enter starts a new line, as in any code editor, so a scriptlet
// typed key by key comes out as typed.
function newlineUnlessCompleting(view) {
  if (completionStatus(view.state) !== "active") return false;
  const option = selectedCompletion(view.state);
  const { head, empty } = view.state.selection.main;
  if (!option || !empty) return false;
  const line = view.state.doc.lineAt(head);
  const word = /\w*$/.exec(line.text.slice(0, head - line.from))[0];
  if (word === "" || (option.label.startsWith(word) && option.label !== word)) return false;
  closeCompletion(view);
  return insertNewlineAndIndent(view);
}

/** The features, completing from the schema `schemaField` holds. Placed after the editor's
 *  Escape binding (tab focus mode) and before its default keymap (so that Backspace between a
 *  pair of brackets deletes both). */
export function editingExtensions(schemaField) {
  return [
    closeBrackets(),
    // Before autocompletion's own (also highest) keymap, whose Enter accepts any open option.
    Prec.highest(keymap.of([{ key: "Enter", run: newlineUnlessCompleting }])),
    autocompletion({ override: [starlarkCompletions(schemaField)], activateOnTyping: true, icons: true }),
    highlightSelectionMatches(),
    keymap.of([...closeBracketsKeymap, ...searchKeymap, ...completionKeymap]),
  ];
}

/** Opens completion where the author typed a word or a dot before the features arrived. */
export function catchUp(view) {
  const { head, empty } = view.state.selection.main;
  const before = view.state.sliceDoc(Math.max(0, head - 1), head);
  if (empty && view.hasFocus && /[\w.]/.test(before)) startCompletion(view);
}
