// Helpers for the browser tests, split as find / act / check.
// The server under test is started by scripts/test.sh, which passes its address in BASE_URL,
// the password it printed for the demo's admin in ADMIN_PASSWORD, and a file to list the
// secrets the tests see in SECRETS_FILE (scripts/check-secrets.sh checks no log holds them).
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const BASE_URL = (process.env.BASE_URL ?? "http://127.0.0.1:3000").replace(/\/$/, "");

// Debian's chromium; the flags keep it from reaching for the network (closed here).
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

export const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD ?? "";
const SECRETS_FILE = process.env.SECRETS_FILE;
/** Where the README's screenshots are written, when set. */
const SCREENSHOTS = process.env.SCREENSHOTS;

/** Notes a secret for the check over the server's log. */
export function recordSecret(value) {
  if (SECRETS_FILE && value) appendFileSync(SECRETS_FILE, `${value}\n`);
}

/** Saves a screenshot of the page for the README (when SCREENSHOTS names a directory). */
export async function screenshot(page, name) {
  if (!SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false });
}

/** Polls until the server answers /healthz (up to 60 s). */
export async function waitForServer() {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const response = await fetch(`${BASE_URL}/healthz`);
      await response.arrayBuffer(); // an unconsumed body keeps the socket (and node) alive
      if (response.ok) return;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error(`no server at ${BASE_URL}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

let apiCookie;
let apiCsrf;

/** A session for plain HTTP requests (signed in as the demo's admin once). */
async function sessionCookie() {
  if (apiCookie) return apiCookie;
  const response = await fetch(`${BASE_URL}/api/v1/session`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: BASE_URL },
    body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
  });
  const body = await response.json();
  if (response.status !== 200) throw new Error(`cannot sign in: ${JSON.stringify(body)}`);
  recordSecret(body.csrf_token);
  apiCsrf = body.csrf_token;
  apiCookie = response.headers.get("set-cookie").split(";")[0];
  recordSecret(apiCookie.split("=")[1]);
  return apiCookie;
}

/** GET a path, signed in (`anonymous: true`: without a session); returns status and body text. */
export async function get(path, { anonymous = false } = {}) {
  const headers = anonymous ? {} : { cookie: await sessionCookie() };
  const response = await fetch(`${BASE_URL}${path}`, { headers, redirect: "manual" });
  return { status: response.status, body: await response.text(), headers: response.headers };
}

/** An `/api/v1` call as the demo's admin (a write carries the session's CSRF token); returns
 *  status and parsed JSON (or text). */
export async function api(method, path, body) {
  const headers = { cookie: await sessionCookie(), origin: BASE_URL, "x-csrf-token": apiCsrf };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${BASE_URL}${path}`, {
    method, headers, body: body === undefined ? undefined : (typeof body === "string" ? body : JSON.stringify(body)),
  });
  const text = await response.text();
  let json;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: response.status, body: json };
}

/** A new user with this role (made by the admin over the API); returns the name and password. */
export async function addUser(prefix, role) {
  const username = `${prefix}-${Date.now().toString(36)}`;
  const password = `pw-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  recordSecret(password);
  const response = await api("POST", "/api/v1/users", { username, role, password });
  if (response.status !== 201) throw new Error(`cannot add ${username}: ${JSON.stringify(response.body)}`);
  return { username, password };
}

/** A fresh browser profile, signed in as the demo's admin unless `signedIn` is false;
 *  `close()` removes it. */
export async function openBrowser({ javaScriptEnabled = true, signedIn = true } = {}) {
  const profile = mkdtempSync(join(tmpdir(), "berth-e2e-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, args: ARGS, javaScriptEnabled,
    viewport: { width: 1280, height: 800 },
  });
  const browser = {
    context,
    async close() {
      await recordSessionSecrets(context);
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
  if (signedIn) {
    const page = await context.newPage();
    await signIn(page, "admin", ADMIN_PASSWORD);
    await page.close();
  }
  return browser;
}

/** Signs in through the login page's form, as a person would. */
export async function signIn(page, username, password, next = "/") {
  await page.goto(`${BASE_URL}/login?next=${encodeURIComponent(next)}`);
  await page.locator('[data-test="login-username"]').fill(username);
  await page.locator('[data-test="login-password"]').fill(password);
  await page.locator('[data-test="login-submit"]').click();
  await page.waitForURL((url) => url.pathname !== "/login");
}

/** The session cookies a browser holds, noted as secrets. */
export async function recordSessionSecrets(context) {
  for (const cookie of await context.cookies()) {
    if (cookie.name === "berth_session") recordSecret(cookie.value);
  }
}

/** Records everything that went wrong on a page: script errors, console errors, HTTP >= 400. */
export function watchProblems(page) {
  const problems = [];
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("response", (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()} ${response.url()}`);
  });
  return problems;
}

/** Waits until the wasm has hydrated the page (the flag is set by an effect, never on the server). */
export async function waitForHydration(page) {
  await page.locator('[data-test="cluster-page"][data-hydrated="true"]').waitFor({ timeout: 30_000 });
}

/** The cluster group sections shown, in order. */
export async function shownGroups(page) {
  return page.locator('[data-test="group-section"]').evaluateAll(
    (sections) => sections.map((section) => section.dataset.group),
  );
}

/** The distinct member names shown, sorted. */
export async function shownMembers(page) {
  const names = await page.locator('[data-test="member"]').evaluateAll(
    (cards) => cards.map((card) => card.dataset.member),
  );
  return [...new Set(names)].sort();
}

/** axe-core, for a page to load with `page.addInitScript({ path: AXE_SCRIPT })` before it opens. */
export const AXE_SCRIPT = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
/** The WCAG 2 / 2.1 A and AA rules; violations that fail a test ("moderate" and "minor" ones are
 *  printed only). */
const AXE_RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
const AXE_BLOCKING = new Set(["serious", "critical"]);

/** axe-core's serious and critical violations on the page as shown, one line per element. */
export async function axeViolations(page) {
  const result = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] }),
    AXE_RULES);
  const found = [];
  for (const violation of result.violations) {
    const serious = AXE_BLOCKING.has(violation.impact);
    for (const node of violation.nodes) {
      const line = `${violation.impact} ${violation.id} (${violation.help}): ${node.target.join(" ")}\n      ${(node.failureSummary ?? "").split("\n").slice(1).join(" ").trim()}`;
      if (serious) found.push(line);
      else console.log(`  (not blocking) ${line}`);
    }
  }
  return found;
}
