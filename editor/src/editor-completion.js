// Completion for the editor's Starlark, from the completion schema of the Incus version the
// sandbox imitates: part of the editing features (editor-editing.js), loaded when the editor
// first takes the focus.

import { syntaxTree } from "@codemirror/language";

const KEYWORDS = ["def", "return", "if", "elif", "else", "for", "in", "not", "and", "or",
  "pass", "break", "continue", "True", "False", "None"];
const UNIVERSE = ["len", "range", "sorted", "str", "int", "bool", "dict", "list", "tuple", "min",
  "max", "enumerate", "zip", "any", "all", "hasattr", "getattr", "fail", "print", "type", "repr",
  "reversed", "abs", "hash"];
const ROOT_TYPES = { request: "InstancePlacement", candidate_members: "list[ClusterMember]" };

const indexed = new WeakMap();

/** The schema's types by name and its builtins available in this version (indexed once). */
function indexSchema(schema) {
  if (schema && typeof schema === "object" && indexed.has(schema)) return indexed.get(schema);
  const index = indexOf(schema);
  if (schema && typeof schema === "object") indexed.set(schema, index);
  return index;
}

function indexOf(schema) {
  const types = new Map();
  for (const ty of (schema && Array.isArray(schema.types) ? schema.types : [])) {
    if (ty && typeof ty.name === "string") types.set(ty.name, ty);
  }
  const builtins = (schema && Array.isArray(schema.builtins) ? schema.builtins : [])
    .filter((b) => b && typeof b.name === "string" && b.available !== false);
  return { types, builtins, version: schema && schema.incus_version };
}

// "list[ClusterMember]" → "ClusterMember"; "dict[string, Resources]" → "Resources".
function resolveTypeName(types, typeStr) {
  let s = String(typeStr || "").trim();
  for (;;) {
    const m = /^(?:list|tuple|set|optional|Optional)\[(.*)\]$/.exec(s);
    const d = /^dict\[[^,\]]+,\s*(.*)\]$/.exec(s);
    if (m) s = m[1].trim();
    else if (d) s = d[1].trim();
    else break;
  }
  s = s.replace(/\s*\|\s*None$/, "").replace(/\?$/, "");
  return types.has(s) ? s : null;
}

// Guess which type an unresolvable identifier most likely holds.
function hintType(types, ident) {
  const id = ident.toLowerCase().replace(/_/g, "");
  const rules = [
    ["instanceres", "InstanceResources"], ["state", "ClusterMemberState"], ["member", "ClusterMember"],
    ["res", "Resources"], ["source", "InstanceSource"], ["src", "InstanceSource"],
    ["project", "Project"], ["inst", "Instance"],
  ];
  for (const ty of types.keys()) if (ty.toLowerCase() === id) return ty;
  for (const [needle, ty] of rules) if (id.includes(needle) && types.has(ty)) return ty;
  return null;
}

function fieldOptions(ty) {
  return (ty.fields || []).filter((f) => f && f.name).map((f) => ({
    label: f.name, type: "property", detail: f.type || "", info: f.doc || undefined,
  }));
}

function unionOptions(types, preferred) {
  const order = [...types.keys()].filter((n) => n !== "InstancePlacement");
  if (preferred && order.includes(preferred)) order.splice(order.indexOf(preferred), 1), order.unshift(preferred);
  const seen = new Set(), out = [];
  for (const name of order) {
    for (const f of types.get(name).fields || []) {
      if (!f || !f.name || seen.has(f.name)) continue;
      seen.add(f.name);
      out.push({
        label: f.name, type: "property", detail: `${name}.${f.name}: ${f.type || "?"}`,
        info: f.doc || undefined, boost: name === preferred ? 1 : 0,
      });
    }
  }
  return out;
}

// Resolve `a.b[0].c` (parts without the trailing partial word) to a type
// name, or { union, preferred } when we have to guess.
function resolveChain(types, parts) {
  const root = parts[0].replace(/\[.*$/, "");
  let cur = ROOT_TYPES[root] ? resolveTypeName(types, ROOT_TYPES[root]) : null;
  let preferred = cur ? null : hintType(types, root);
  let guessing = !cur;
  for (const part of parts.slice(1)) {
    const name = part.replace(/\[.*$/, "");
    let field = null;
    if (!guessing) {
      field = (types.get(cur).fields || []).find((f) => f && f.name === name) || null;
    } else {
      const order = [...types.keys()].filter((n) => n !== "InstancePlacement");
      if (preferred) order.unshift(preferred);
      for (const tn of order) {
        field = (types.get(tn).fields || []).find((f) => f && f.name === name);
        if (field) break;
      }
    }
    const next = field ? resolveTypeName(types, field.type) : null;
    if (next) { cur = next; guessing = false; preferred = null; }
    else { guessing = true; preferred = hintType(types, name); cur = null; }
  }
  return guessing ? { union: true, preferred } : { type: cur };
}

/** Completion for a scriptlet, from the schema `schemaField` holds: member access resolved through
 *  the schema's types (`request.`, `member.state.`), else the builtins, the two arguments, the
 *  Starlark universe and the keywords; nothing in comments and strings. */
export const starlarkCompletions = (schemaField) => (context) => {
  const { state, pos, explicit } = context;
  const node = syntaxTree(state).resolveInner(pos, -1);
  for (let n = node; n; n = n.parent) {
    if (/comment|string/i.test(n.name)) return null;
  }
  const schema = indexSchema(state.field(schemaField, false));
  const line = state.doc.lineAt(pos);
  const before = state.sliceDoc(line.from, pos);

  // Member access: `ident(.ident|[...])*.partial`
  const dotted = /((?:[A-Za-z_]\w*(?:\[[^\[\]]*\])*\.)+)(\w*)$/.exec(before);
  if (dotted) {
    const partial = dotted[2];
    const parts = dotted[1].slice(0, -1).split(/\.(?![^\[]*\])/);
    const r = resolveChain(schema.types, parts);
    const options = r.type ? fieldOptions(schema.types.get(r.type)) : unionOptions(schema.types, r.preferred);
    if (!options.length) return null;
    return { from: pos - partial.length, options, validFor: /^\w*$/ };
  }
  // A dot right after something we cannot resolve (e.g. `foo().`): only on request.
  if (/\.\w*$/.test(before)) {
    if (!explicit) return null;
    const partial = /\w*$/.exec(before)[0];
    const options = unionOptions(schema.types, null);
    return options.length ? { from: pos - partial.length, options, validFor: /^\w*$/ } : null;
  }

  const word = context.matchBefore(/[A-Za-z_]\w*/);
  if (!word && !explicit) return null;
  if (word && word.from > line.from && /[\w.]/.test(state.sliceDoc(word.from - 1, word.from))) return null;
  const options = [];
  for (const b of schema.builtins) {
    const info = [b.doc, b.returns ? `Returns: ${b.returns}` : "",
      b.api_extension ? `Requires API extension: ${b.api_extension}` : ""].filter(Boolean).join("\n\n");
    options.push({ label: b.name, type: "function", detail: b.signature || "", info: info || undefined,
      apply: b.name + "(", boost: 2 });
  }
  options.push({ label: "request", type: "variable", detail: "InstancePlacement", boost: 3 });
  options.push({ label: "candidate_members", type: "variable", detail: "list[ClusterMember]", boost: 3 });
  const have = new Set(options.map((o) => o.label));
  for (const f of UNIVERSE) if (!have.has(f)) options.push({ label: f, type: "function", detail: "builtin", apply: f + "(" });
  for (const k of KEYWORDS) options.push({ label: k, type: "keyword", boost: -1 });
  return { from: word ? word.from : pos, options, validFor: /^\w*$/ };
};
