// Helpers for the browser tests, split as find / act / check.
// The server under test is started by scripts/test.sh, which passes its address in BASE_URL.
import { mkdtempSync, rmSync } from "node:fs";
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

/** GET a path; returns status and body text. */
export async function get(path) {
  const response = await fetch(`${BASE_URL}${path}`);
  return { status: response.status, body: await response.text(), headers: response.headers };
}

/** A fresh browser profile; `close()` removes it. */
export async function openBrowser({ javaScriptEnabled = true } = {}) {
  const profile = mkdtempSync(join(tmpdir(), "berth-e2e-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, args: ARGS, javaScriptEnabled,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
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
