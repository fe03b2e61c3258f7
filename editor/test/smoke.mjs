// Smoke test for the editor bundle (not part of the app's test suite).
// Builds the bundle to a temp dir, serves a CSP-locked test page and drives
// Debian's chromium through the playwright-core installed for end2end/.
//
//   node test/smoke.mjs
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const require = createRequire(path.resolve(root, "../end2end/package.json"));
const { chromium } = require("playwright-core");

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "berth-editor-"));
const bundle = path.join(tmp, "editor.js");
execFileSync(process.execPath, [path.join(root, "build.mjs"), bundle], { stdio: "inherit" });
if (fs.existsSync(bundle + ".map")) throw new Error("source map emitted");

const CSP_STRICT = "default-src 'self'; script-src 'self' 'nonce-abc'; style-src 'self'";
const CSP_NONCE = "default-src 'self'; script-src 'self' 'nonce-abc'; style-src 'self' 'nonce-abc'";

const CSS = `
:root { --bg:#f4f5f7; --panel:#ffffff; --panel-2:#f8f9fb; --border:#dfe2e7; --text:#1d2330;
  --muted:#667085; --accent:#2f6fde; --accent-soft:#e6eefc; --ok:#1f9d55; --warn:#c98a00;
  --crit:#d43c3c; --radius:6px; --mono: ui-monospace, Menlo, Consolas, monospace; }
@media (prefers-color-scheme: dark) { :root { --bg:#111520; --panel:#181d2a; --panel-2:#1d2332;
  --border:#2a3142; --text:#e3e7ef; --muted:#8d97ab; --accent:#6c9ef8; --accent-soft:#22304d;
  --ok:#3fbf74; --warn:#e0a82e; --crit:#f06262; } }
body { background: var(--bg); color: var(--text); }
#host, #host2 { height: 240px; border: 1px solid var(--border); }
`;

const SCHEMA = {
  incus_version: "6.0.4",
  builtins: [
    { name: "place_on", signature: "place_on(member: ClusterMember) -> None", returns: "None",
      doc: "Place the instance on member.", api_extension: null, available: true },
    { name: "hidden_fn", signature: "hidden_fn()", returns: "None", doc: "n/a",
      api_extension: "future_ext", available: false },
  ],
  types: [
    { name: "InstancePlacement", doc: "The request", fields: [
      { name: "reason", type: "string", doc: "Why placement is happening" },
      { name: "name", type: "string", doc: "Instance name" },
      { name: "project", type: "string", doc: "Project name" },
      { name: "source", type: "InstanceSource", doc: "Instance source" },
      { name: "config", type: "dict[string, string]", doc: "Config" } ] },
    { name: "InstanceSource", doc: "Source", fields: [
      { name: "type", type: "string", doc: "Source type" },
      { name: "alias", type: "string", doc: "Image alias" } ] },
    { name: "Resources", doc: "Resources", fields: [
      { name: "cpu_total", type: "int", doc: "CPUs" } ] },
    { name: "ClusterMember", doc: "Member", fields: [
      { name: "server_name", type: "string", doc: "Server name" },
      { name: "resources", type: "Resources", doc: "Member resources" },
      { name: "name", type: "string", doc: "dup name" } ] },
  ],
};

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>editor smoke</title>
<link rel="stylesheet" href="/style.css"></head><body>
<div id="host"><pre>server-rendered fallback</pre></div>
<div id="host2"></div>
<script type="module" nonce="abc">
import * as api from "/editor.js";
window.violations = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.violations.push(e.violatedDirective + " " + e.blockedURI));
window.changes = [];
const doc = "def place(request, candidate_members):\\n    x = undefined_name\\n    return None\\n";
window.view = api.createEditor(document.getElementById("host"), doc, false, "abc",
  (t) => window.changes.push(t));
window.view2 = api.createEditor(document.getElementById("host2"), "ro = 1\\n", true, "abc", null);
api.setSchema(window.view, ${JSON.stringify(JSON.stringify(SCHEMA))});
window.api = api;
window.ready = true;
</script></body></html>`;

function serve(csp) {
  const server = http.createServer((req, res) => {
    const url = req.url.split("?")[0];
    const send = (type, body) => {
      res.writeHead(200, { "Content-Type": type, "Content-Security-Policy": csp, "Cache-Control": "no-store" });
      res.end(body);
    };
    if (url === "/") send("text/html; charset=utf-8", PAGE);
    // The bundle and the modules it imports (its chunk, its editing features).
    else if (/^\/editor[\w-]*\.js$/.test(url)) send("text/javascript", fs.readFileSync(path.join(tmp, url.slice(1))));
    else if (url === "/style.css") send("text/css", CSS);
    else { res.writeHead(404); res.end(); }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

let failures = 0;
function check(name, ok, extra = "") {
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${extra ? " — " + extra : ""}`);
  if (!ok) failures++;
}

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
try {
  // ---- 1. Strict CSP (style-src 'self'): does CodeMirror's <style> survive?
  {
    const server = await serve(CSP_STRICT);
    const page = await browser.newPage();
    const consoleCsp = [];
    page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) consoleCsp.push(m.text()); });
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForFunction(() => window.ready);
    const bg = await page.$eval(".cm-gutters", (el) => getComputedStyle(el).backgroundColor);
    console.log(`info strict CSP (${CSP_STRICT}): ${consoleCsp.length} CSP console errors, .cm-gutters background=${bg}`);
    await page.close();
    server.close();
  }

  // ---- 2. CSP with the nonce in style-src: full functional check.
  const server = await serve(CSP_NONCE);
  const page = await browser.newPage();
  const consoleCsp = [], pageErrors = [];
  page.on("console", (m) => { if (/Content Security Policy|Refused/i.test(m.text())) consoleCsp.push(m.text()); });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForFunction(() => window.ready);

  check("line numbers shown", (await page.locator("#host .cm-lineNumbers").count()) === 1);
  check("fallback <pre> removed", (await page.locator("#host pre").count()) === 0);

  const styles = await page.evaluate(() => {
    const g = getComputedStyle(document.querySelector("#host .cm-gutters"));
    const e = getComputedStyle(document.querySelector("#host .cm-editor"));
    return { gutterBg: g.backgroundColor, fontSize: e.fontSize, height: e.height,
      hostHeight: getComputedStyle(document.querySelector("#host")).height,
      scrollerOverflow: getComputedStyle(document.querySelector("#host .cm-scroller")).overflowY };
  });
  check("gutter background applied", styles.gutterBg === "rgb(248, 249, 251)", styles.gutterBg);
  check("font size 13px", styles.fontSize === "13px", styles.fontSize);
  check("editor fills parent", styles.height === styles.hostHeight, styles.height + " vs " + styles.hostHeight);

  // Diagnostics
  await page.evaluate(() => window.api.setDiagnostics(window.view, JSON.stringify([
    { line: 2, column: 9, severity: "error", message: "undefined: undefined_name", code: "E100" },
    { line: 3, column: 99, severity: "warning", message: "past end", code: null },
    { line: null, column: null, severity: "warning", message: "file level", code: null },
  ])));
  await page.waitForSelector("#host .cm-lintRange-error");
  const diag = await page.evaluate(() => {
    const el = document.querySelector("#host .cm-lintRange-error");
    const lines = [...document.querySelectorAll("#host .cm-line")];
    const warn = [...document.querySelectorAll("#host .cm-lintRange-warning")].map((w) => w.textContent);
    return { text: el.textContent, line: lines.indexOf(el.closest(".cm-line")) + 1, warn,
      deco: getComputedStyle(el).textDecorationLine, markers: document.querySelectorAll("#host .cm-lint-marker").length };
  });
  check("error underline on line 2", diag.line === 2 && diag.text === "undefined_name", JSON.stringify(diag));
  check("warning clamped to last char / null line spans line 1",
    diag.warn.includes("e") && diag.warn.some((w) => w.startsWith("def place")), JSON.stringify(diag.warn));
  check("underline drawn with CSS", diag.deco === "underline");
  check("lint gutter markers", diag.markers >= 2, String(diag.markers));

  // Completion: request.<field>
  await page.click("#host .cm-content");
  await page.keyboard.press("Control+End");
  await page.keyboard.type("    request.");
  await page.waitForSelector(".cm-tooltip-autocomplete");
  const labels = await page.$$eval(".cm-tooltip-autocomplete li .cm-completionLabel", (els) => els.map((e) => e.textContent));
  const shot = process.env.SMOKE_SCREENSHOT_DIR;
  if (shot) await page.screenshot({ path: path.join(shot, "light.png") });
  check("request. completes InstancePlacement fields", labels.includes("reason") && labels.includes("source"), labels.join(","));
  await page.keyboard.type("reas");
  await page.waitForTimeout(150);
  await page.keyboard.press("Enter");
  const afterAccept = await page.evaluate(() => window.api.getDoc(window.view));
  check("Enter inserts request.reason", /request\.reason$/m.test(afterAccept.trimEnd()), JSON.stringify(afterAccept.slice(-30)));
  check("onChange fired with full text", (await page.evaluate(() => window.changes.at(-1))) === afterAccept);

  // Chain: request.source.
  await page.keyboard.press("Enter");
  await page.keyboard.type("request.source.");
  await page.waitForSelector(".cm-tooltip-autocomplete");
  const srcLabels = await page.$$eval(".cm-tooltip-autocomplete li .cm-completionLabel", (els) => els.map((e) => e.textContent));
  check("request.source. → InstanceSource fields", srcLabels.join(",") === "alias,type", srcLabels.join(","));
  await page.keyboard.press("Escape");

  // Known parameter: candidate_members[0]. → ClusterMember
  await page.keyboard.press("Enter");
  await page.keyboard.type("candidate_members[0].");
  await page.waitForSelector(".cm-tooltip-autocomplete");
  const cm = await page.$$eval(".cm-tooltip-autocomplete li .cm-completionLabel", (els) => els.map((e) => e.textContent));
  check("candidate_members[0]. → ClusterMember fields", cm.join(",") === "name,resources,server_name", cm.join(","));
  await page.keyboard.press("Escape");

  // Unknown receiver: member. → union of all types but InstancePlacement, ClusterMember first
  await page.keyboard.press("Enter");
  await page.keyboard.type("member.");
  await page.waitForSelector(".cm-tooltip-autocomplete");
  const mem = await page.$$eval(".cm-tooltip-autocomplete li", (els) => els.map((e) =>
    e.querySelector(".cm-completionLabel").textContent + "|" + (e.querySelector(".cm-completionDetail") || {}).textContent));
  check("member. → union, ClusterMember preferred",
    mem[0].split("|")[1].startsWith("ClusterMember.") && mem.includes("name|ClusterMember.name: string")
      && mem.includes("cpu_total|Resources.cpu_total: int") && !mem.some((m) => m.startsWith("reason|")), mem.join(", "));
  await page.keyboard.press("Escape");
  await page.keyboard.press("Enter");
  await page.keyboard.type("m.resources.");
  await page.waitForSelector(".cm-tooltip-autocomplete");
  const resLabels = await page.$$eval(".cm-tooltip-autocomplete li .cm-completionLabel", (els) => els.map((e) => e.textContent));
  check("m.resources. → Resources fields", resLabels.join(",") === "cpu_total", resLabels.join(","));
  await page.keyboard.press("Escape");

  // Bare identifier
  await page.keyboard.press("Enter");
  await page.keyboard.type("pla");
  await page.waitForSelector(".cm-tooltip-autocomplete");
  const bare = await page.$$eval(".cm-tooltip-autocomplete li .cm-completionLabel", (els) => els.map((e) => e.textContent));
  check("bare word → builtins", bare.includes("place_on") && !bare.includes("hidden_fn"), bare.join(","));
  await page.keyboard.press("Enter");
  const bareDoc = await page.evaluate(() => window.api.getDoc(window.view));
  check("builtin apply inserts name(", /place_on\($/.test(bareDoc.replace(/\)\s*$/, "").trimEnd()) || bareDoc.includes("place_on("), JSON.stringify(bareDoc.slice(-20)));
  await page.keyboard.press("Escape");
  await page.keyboard.press("Control+End");
  await page.keyboard.press("Enter");
  await page.keyboard.type("x = ");
  await page.waitForTimeout(200);
  check("no popup after space", (await page.locator(".cm-tooltip-autocomplete").count()) === 0);
  await page.keyboard.press("Control+Space");
  await page.waitForSelector(".cm-tooltip-autocomplete");
  const explicitLabels = await page.$$eval(".cm-tooltip-autocomplete li .cm-completionLabel", (els) => els.map((e) => e.textContent));
  check("Ctrl-Space completes keywords/universe", explicitLabels.includes("len") && explicitLabels.includes("request") && explicitLabels.includes("True"));
  await page.keyboard.press("Escape");

  // Tab moves focus out of the text (no indentWithTab unless opted in): to the "Tab indents"
  // choice below it, then on out of the editor
  await page.keyboard.press("Tab");
  const tabOut = await page.evaluate(() => {
    const active = document.activeElement;
    return !document.querySelector("#host .cm-content").contains(active) && active.dataset.test === "tab-indents";
  });
  check("Tab leaves the editor's text for the Tab-indents choice", tabOut);

  // goTo
  const go = await page.evaluate(() => {
    window.api.goTo(window.view, 2, 5);
    const v = window.view;
    return { head: v.state.selection.main.head, expect: v.state.doc.line(2).from + 4, focused: v.hasFocus };
  });
  check("goTo moves cursor and focuses", go.head === go.expect && go.focused, JSON.stringify(go));
  const clamped = await page.evaluate(() => { window.api.goTo(window.view, 999, 999); return window.view.state.selection.main.head === window.view.state.doc.length; });
  check("goTo clamps", clamped);

  // setDoc / getDoc
  const sd = await page.evaluate(() => { window.api.setDoc(window.view, "a = 1\n"); return [window.api.getDoc(window.view), window.changes.at(-1)]; });
  check("setDoc/getDoc", sd[0] === "a = 1\n" && sd[1] === "a = 1\n");

  // read-only
  await page.evaluate(() => window.api.setReadOnly(window.view, true));
  await page.click("#host .cm-content");
  await page.keyboard.type("zzz");
  check("setReadOnly(true) blocks typing", (await page.evaluate(() => window.api.getDoc(window.view))) === "a = 1\n");
  await page.evaluate(() => window.api.setReadOnly(window.view, false));
  await page.click("#host .cm-content");
  await page.keyboard.press("Control+End");
  await page.keyboard.type("b");
  check("setReadOnly(false) re-enables typing", (await page.evaluate(() => window.api.getDoc(window.view))).includes("b"));
  await page.click("#host2 .cm-content");
  await page.keyboard.type("qq");
  check("createEditor(readOnly=true) blocks typing", (await page.evaluate(() => window.api.getDoc(window.view2))) === "ro = 1\n");

  // dark scheme follows prefers-color-scheme
  await page.emulateMedia({ colorScheme: "dark" });
  const dark = await page.evaluate(() => ({
    gutter: getComputedStyle(document.querySelector("#host .cm-gutters")).backgroundColor,
    fn: getComputedStyle(document.querySelector("#host .cm-content")).getPropertyValue("--berth-cm-fn").trim(),
  }));
  if (shot) {
    await page.evaluate(() => { window.api.setDoc(window.view, "def place(request, candidate_members):\n    # pick one\n    for m in candidate_members:\n        if m.server_name == \"a\" and len(x) > 2:\n            return True\n");
      window.api.setDiagnostics(window.view, JSON.stringify([{ line: 4, column: 41, severity: "error", message: "undefined: x", code: "E1" }])); });
    await page.click("#host .cm-content");
    await page.keyboard.press("Control+End");
    await page.keyboard.type("    request.so");
    await page.waitForSelector(".cm-tooltip-autocomplete");
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(shot, "dark.png") });
    await page.keyboard.press("Escape");
  }
  check("dark scheme colours", dark.gutter === "rgb(29, 35, 50)" && dark.fn === "#c4a2ff", JSON.stringify(dark));

  // coverage gutter: run and never-run lines, kept on their lines while editing, cleared
  await page.emulateMedia({ colorScheme: "light" });
  const covered = await page.evaluate(() => {
    window.api.setDoc(window.view, "a = 1\nb = 2\nc = 3\nd = 4\n");
    window.api.setCoverage(window.view, JSON.stringify({ run: [1, 2], unrun: [3] }));
    const count = (sel) => document.querySelectorAll("#host " + sel).length;
    const first = { run: count("[data-coverage=run]"), unrun: count("[data-coverage=unrun]"), tinted: count(".cm-unrun-line") };
    window.view.dispatch({ changes: { from: 0, insert: "# new first line\n" } });
    const tinted = document.querySelector("#host .cm-unrun-line");
    const moved = tinted ? tinted.textContent : null;
    window.api.setCoverage(window.view, "");
    return { first, moved, cleared: count("[data-coverage]") + count(".cm-unrun-line") };
  });
  check("coverage marks run and never-run lines", covered.first.run === 2 && covered.first.unrun === 1 && covered.first.tinted === 1, JSON.stringify(covered));
  check("coverage marks follow edits", covered.moved === "c = 3", JSON.stringify(covered));
  check("coverage marks clear", covered.cleared === 0, JSON.stringify(covered));

  // destroy
  const destroyed = await page.evaluate(() => { window.api.destroy(window.view2); return document.querySelector("#host2").children.length; });
  check("destroy removes the view", destroyed === 0);

  const violations = await page.evaluate(() => window.violations);
  check("no CSP violations", violations.length === 0 && consoleCsp.length === 0, [...violations, ...consoleCsp].join(" | "));
  check("no page errors", pageErrors.length === 0, pageErrors.join(" | "));
  await page.close();
  server.close();
} finally {
  await browser.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}

console.log(failures ? `\n${failures} check(s) failed` : "\nall checks passed");
process.exit(failures ? 1 : 0);
