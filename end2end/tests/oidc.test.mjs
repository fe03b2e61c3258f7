// Single sign-on against a real OpenID provider (oidc-provider, end2end/oidc/provider.mjs),
// started here with a Berth of its own (`berth serve --oidc-…`, BERTH_BIN): sign-in in
// chromium through the provider's login and consent pages, roles from the groups claim
// (re-read at every sign-in), "no access", `next=` kept, the audit log; and what Berth must
// refuse: a tampered ID token, one for another audience, an expired one, a replayed code, a
// callback with another browser's state.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";

import { accounts, startProvider } from "../oidc/provider.mjs";
import { AXE_SCRIPT, axeViolations, openBrowser, recordSecret } from "./support.mjs";

const BERTH_BIN = process.env.BERTH_BIN ?? resolve("../target/debug/berth");

let provider;
let berth;
let workDir;
let adminPassword;
let berthUrl;

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), "berth-oidc-"));
  const port = await freePort();
  berthUrl = `http://127.0.0.1:${port}`;
  provider = await startProvider({ callback: `${berthUrl}/login/oidc/callback` });
  writeFileSync(join(workDir, "client-secret"), `${provider.clientSecret}\n`);
  recordSecret(provider.clientSecret);
  berth = spawn(BERTH_BIN, [
    "serve", "--demo", "--listen", `127.0.0.1:${port}`, "--data-dir", join(workDir, "data"),
    "--oidc-issuer", provider.issuer, "--oidc-client-id", provider.clientId,
    "--oidc-client-secret-file", join(workDir, "client-secret"),
    "--oidc-role-map", "berth-admins=admin,sre=operator,dev=author",
    "--oidc-name", "Test ID",
  ], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "info" } });
  let stdout = "";
  let stderr = "";
  berth.stdout.on("data", (chunk) => { stdout += chunk; });
  berth.stderr.on("data", (chunk) => { stderr += chunk; });
  const deadline = Date.now() + 60_000;
  while (!/Berth is running at/.test(stdout)) {
    if (berth.exitCode !== null || Date.now() > deadline) throw new Error(`berth did not start:\n${stderr}`);
    await new Promise((done) => setTimeout(done, 100));
  }
  adminPassword = /the password (\S+) /.exec(stdout)[1];
  recordSecret(adminPassword);
});

after(async () => {
  berth?.kill("SIGTERM");
  await provider?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** Signs `login` in with single sign-on from the login page, as a person would. */
async function signInWithProvider(page, login, next) {
  const query = next ? `?next=${encodeURIComponent(next)}` : "";
  await page.goto(`${berthUrl}/login${query}`);
  await page.locator('[data-test="login-oidc"]').click();
  await page.waitForURL((url) => url.href.startsWith(provider.issuer));
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill("any password: the development login takes any");
  await page.locator("button.login-submit").click();
  // The consent page, the first time this account meets Berth.
  await page.waitForURL((url) => !url.href.startsWith(provider.issuer) || url.pathname.startsWith("/interaction"));
  const consent = page.locator('button:has-text("Continue")');
  if (page.url().startsWith(provider.issuer) && (await consent.count()) > 0) await consent.click();
  await page.waitForURL((url) => url.href.startsWith(berthUrl) && url.pathname !== "/login/oidc/callback");
}

/** Berth's audit log (as its admin). */
async function audit(kind) {
  const signIn = await fetch(`${berthUrl}/api/v1/session`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: berthUrl },
    body: JSON.stringify({ username: "admin", password: adminPassword }),
  });
  assert.equal(signIn.status, 200);
  const cookie = signIn.headers.get("set-cookie").split(";")[0];
  const response = await fetch(`${berthUrl}/api/v1/audit?kind=${kind}&limit=500`, { headers: { cookie } });
  assert.equal(response.status, 200);
  return response.json();
}

/** Errors on Berth's pages (the provider's development pages load fonts from the web, which
 *  this machine does not reach: theirs are not counted). */
function berthProblems(page) {
  const problems = [];
  const ours = (url) => url.startsWith(berthUrl);
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && ours(message.location().url ?? "")) problems.push(`console: ${message.text()}`);
  });
  page.on("response", (response) => {
    if (response.status() >= 400 && ours(response.url())) problems.push(`HTTP ${response.status()} ${response.url()}`);
  });
  return problems;
}

async function whoAmI(page) {
  return page.evaluate(async () => (await fetch("/api/v1/me")).json());
}

test("sign in with the provider: the account is made with the role of its groups, next= kept, audited", async () => {
  const browser = await openBrowser({ signedIn: false });
  try {
    const page = await browser.context.newPage();
    const problems = berthProblems(page);
    await page.goto(`${berthUrl}/login`);
    // The button is there once hydrated too (the page renders it on the server and in wasm).
    await page.locator('[data-test="login-page"][data-hydrated="true"]').waitFor();
    assert.equal(await page.locator('[data-test="login-oidc"]').innerText(), "Sign in with Test ID");
    await signInWithProvider(page, "alice", "/audit?kind=login");
    await page.waitForURL(`${berthUrl}/audit?kind=login`);
    assert.deepEqual(await whoAmI(page), { username: "alice", role: "admin" });
    await page.locator('[data-test="user-name"]').waitFor();
    assert.equal(await page.locator('[data-test="user-role"]').innerText(), "admin");
    // On the Users page the account is marked as the provider's: no password to reset.
    await page.goto(`${berthUrl}/settings/users`);
    const row = page.locator('[data-test="user-row"][data-user="alice"]');
    assert.equal(await row.locator('[data-test="external-account"]').count(), 1);
    assert.equal(await row.locator('[data-test="reset-password"]').count(), 0);
    // Nothing went wrong on Berth's pages on the way.
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
  }
  const logins = (await audit("login")).filter((entry) => entry.subject === "alice");
  assert.ok(logins.some((entry) => entry.kind === "login" && entry.detail.via === "oidc"), JSON.stringify(logins));
  const created = (await audit("user.created")).filter((entry) => entry.subject === "alice");
  assert.equal(created.length, 1);
  assert.equal(created[0].detail.role, "admin");
});

test("from the keyboard: Tab reaches \"Sign in with …\" and Enter starts it; the login page passes axe-core", async () => {
  const browser = await openBrowser({ signedIn: false });
  try {
    const page = await browser.context.newPage();
    await page.addInitScript({ path: AXE_SCRIPT });
    await page.goto(`${berthUrl}/login?next=${encodeURIComponent("/plans")}`);
    await page.locator('[data-test="login-page"][data-hydrated="true"]').waitFor();
    assert.deepEqual(await axeViolations(page), [], "the login page with single sign-on");
    let reached = false;
    for (let tabs = 0; tabs < 15 && !reached; tabs++) {
      await page.keyboard.press("Tab");
      reached = await page.evaluate(() => document.activeElement?.dataset.test === "login-oidc");
    }
    assert.ok(reached, "Tab never reached the single sign-on link");
    await page.keyboard.press("Enter");
    await page.waitForURL((url) => url.href.startsWith(provider.issuer));
  } finally {
    await browser.close();
  }
});

test("the role is read again at every sign-in; a password sign-in of the external account is refused", async () => {
  for (const [groups, role] of [[["sre", "dev"], "operator"], [["dev"], "author"]]) {
    accounts.sam.groups = groups;
    const browser = await openBrowser({ signedIn: false });
    try {
      const page = await browser.context.newPage();
      await signInWithProvider(page, "sam");
      assert.deepEqual(await whoAmI(page), { username: "sam", role });
    } finally {
      await browser.close();
    }
  }
  const changes = (await audit("user.role_changed")).filter((entry) => entry.subject === "sam");
  assert.deepEqual(changes.map((entry) => [entry.detail.from, entry.detail.to]), [["operator", "author"]]);
  // No password signs the external account in, not even an empty one.
  for (const password of ["", "anything"]) {
    const response = await fetch(`${berthUrl}/api/v1/session`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: berthUrl },
      body: JSON.stringify({ username: "sam", password }),
    });
    assert.equal(response.status, 401);
  }
});

test("groups that map to no role: the no-access page, no session, the failure audited", async () => {
  const browser = await openBrowser({ signedIn: false });
  try {
    const page = await browser.context.newPage();
    await page.addInitScript({ path: AXE_SCRIPT });
    await signInWithProvider(page, "bob");
    await page.waitForURL(`${berthUrl}/no-access`);
    assert.match(await page.locator('[data-test="no-access"]').innerText(), /none of your groups there gives a role in Berth/);
    assert.deepEqual(await axeViolations(page), [], "the no-access page");
    const me = await page.evaluate(async () => (await fetch("/api/v1/me")).status);
    assert.equal(me, 401);
  } finally {
    await browser.close();
  }
  const failures = (await audit("login.failed")).filter((entry) => entry.subject === "bob");
  assert.equal(failures.length, 1);
  assert.deepEqual([failures[0].detail.via, failures[0].detail.reason], ["oidc", "no_role"]);
});

for (const [mode, words] of [
  ["tamper", /signature does not verify/],
  ["other-client", /another client \(aud\)/],
  ["expire", /it has expired/],
]) {
  test(`an ID token Berth must refuse (${mode}): back to the login page with the reason, no session`, async () => {
    const before = (await audit("login.failed")).length;
    const browser = await openBrowser({ signedIn: false });
    provider.setMode(mode);
    try {
      const page = await browser.context.newPage();
      await signInWithProvider(page, "alice", "/snapshots");
      await page.waitForURL((url) => url.pathname === "/login");
      const error = await page.locator('[data-test="login-error"]').innerText();
      assert.match(error, /Sign-in with Test ID failed: the identity provider's ID token is not valid/);
      assert.match(error, words);
      assert.equal(await page.evaluate(async () => (await fetch("/api/v1/me")).status), 401);
    } finally {
      provider.setMode("none");
      await browser.close();
    }
    const failures = await audit("login.failed");
    assert.equal(failures.length, before + 1);
    assert.equal(failures[0].detail.reason, "invalid_token");
  });
}

test("a replayed code is refused by the provider and Berth says so; another browser's state is refused", async () => {
  const browser = await openBrowser({ signedIn: false });
  const stranger = await openBrowser({ signedIn: false });
  try {
    const page = await browser.context.newPage();
    let firstCallback;
    // The provider's redirect to the callback (a redirect: seen, not routed).
    page.on("request", (request) => {
      if (request.url().startsWith(`${berthUrl}/login/oidc/callback`)) firstCallback ??= request.url();
    });
    await signInWithProvider(page, "alice");
    assert.equal((await whoAmI(page)).username, "alice");
    const code = new URL(firstCallback).searchParams.get("code");

    // A new sign-in in the same browser, stopped on its way to the provider, answered with
    // the code already used: Berth takes its own state, and the provider refuses the code.
    // (Started through the browser's own cookie jar, and not followed to the provider, which
    // would answer at once: this browser has a session there.)
    const stateOf = async (context) => {
      const started = await context.request.get(`${berthUrl}/login/oidc`, { maxRedirects: 0 });
      assert.equal(started.status(), 303);
      return new URL(started.headers().location).searchParams.get("state");
    };
    const replayPage = await browser.context.newPage();
    const state = await stateOf(browser.context);
    await replayPage.goto(`${berthUrl}/login/oidc/callback?code=${encodeURIComponent(code)}&state=${encodeURIComponent(state)}`);
    await replayPage.waitForURL((url) => url.pathname === "/login");
    assert.match(await replayPage.locator('[data-test="login-error"]').innerText(), /the identity provider refused the sign-in \(invalid_grant\)/);

    // A state this browser started, presented by another browser.
    const theirs = await stateOf(browser.context);
    const strangerPage = await stranger.context.newPage();
    await strangerPage.goto(`${berthUrl}/login/oidc/callback?code=whatever&state=${encodeURIComponent(theirs)}`);
    await strangerPage.waitForURL((url) => url.pathname === "/login");
    assert.match(await strangerPage.locator('[data-test="login-error"]').innerText(), /started in another browser/);
    assert.equal(await strangerPage.evaluate(async () => (await fetch("/api/v1/me")).status), 401);
    // And it is used up: the same state again is unknown.
    await strangerPage.goto(`${berthUrl}/login/oidc/callback?code=whatever&state=${encodeURIComponent(theirs)}`);
    assert.match(await strangerPage.locator('[data-test="login-error"]').innerText(), /unknown, expired or already used/);
  } finally {
    await browser.close();
    await stranger.close();
  }
  // (A callback for a state nobody has is counted, not audited: no sign-in was refused.)
  const reasons = (await audit("login.failed")).slice(0, 2).map((entry) => entry.detail.reason);
  assert.deepEqual(reasons, ["other_browser", "provider_refused"]);
});

function freePort() {
  return new Promise((done, fail) => {
    const server = net.createServer();
    server.on("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}
