// The decision log in the browser: with the log on for a connection to the test bed, a create
// made with the `incus` command line (not through Berth) appears on the Decisions page, live,
// within 2 s of Incus placing it, with its scriptlet's line; a viewer reads the log and filters
// it without JavaScript. Takes the README's screenshot (decisions.png).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { after, before, test } from "node:test";

import { addUser, api, BASE_URL, openBrowser, screenshot, signIn, waitForServer, watchProblems } from "./support.mjs";

/** Set by scripts/test.sh: the unix socket of the test bed's first member. */
const TESTBED_SOCKET = process.env.TESTBED_SOCKET;
const NO_TESTBED = "TESTBED_SOCKET is not set: the decision log listens to the real Incus test bed (scripts/testbed.sh)";
const CONNECTION = "decisions-bed";
const SCRIPTLET = `
def instance_placement(request, candidate_members):
    names = sorted([m.server_name for m in candidate_members])
    log_info("e2e placing ", request.name, " among ", ",".join(names))
    set_target(names[len(request.name) % len(names)])
`;
const suffix = Date.now().toString(36);
const created = [];

/** The `incus` command line against the test bed (its first member's socket). */
function incus(...args) {
  return execFileSync("incus", args, {
    env: { ...process.env, INCUS_DIR: dirname(TESTBED_SOCKET) },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 120_000,
  });
}

function create(name) {
  incus("create", "busybox", name, "--project", "default", "--quiet");
  created.push(name);
}

/** The log's decision for `name` once it has one, or null after `timeout` ms. */
async function recorded(name, timeout) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const listed = await api("GET", `/api/v1/decisions?connection=${CONNECTION}&instance=${name}`);
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    if (listed.body.decisions.length > 0) return listed.body.decisions[0];
    if (Date.now() >= deadline) return null;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Waits until the listener records: it starts within seconds of the log being turned on, and a
 * create made before its stream is open is part of its first capture, not a decision. So
 * instances are created until one is recorded.
 */
async function untilListening(timeout = 90_000) {
  const deadline = Date.now() + timeout;
  for (let attempt = 1; ; attempt++) {
    const warm = `e2e-dl-warm${attempt}-${suffix}`;
    create(warm);
    if (await recorded(warm, 8_000)) return;
    assert.ok(Date.now() < deadline, `the decision log recorded no create within ${timeout} ms`);
  }
}

before(async () => {
  await waitForServer();
});

after(() => {
  if (!TESTBED_SOCKET) return;
  for (const name of created) {
    try { incus("delete", "--force", name, "--project", "default"); } catch { /* gone already */ }
  }
  try { incus("config", "unset", "instances.placement.scriptlet"); } catch { /* unset already */ }
});

test("a create made with incus appears on the Decisions page within 2 s, with its scriptlet's line", async (t) => {
  if (!TESTBED_SOCKET) {
    t.skip(NO_TESTBED);
    return;
  }
  assert.ok(existsSync(TESTBED_SOCKET), TESTBED_SOCKET);
  incus("config", "set", `instances.placement.scriptlet=${SCRIPTLET}`);
  const added = await api("POST", "/api/v1/connections", {
    name: CONNECTION, remote: `unix://${TESTBED_SOCKET}`, decision_log: true,
  });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  assert.equal(added.body.decision_log, true);
  await untilListening();

  const browser = await openBrowser();
  try {
    const page = await browser.context.newPage();
    const problems = watchProblems(page);
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.goto(`${BASE_URL}/decisions?connection=${CONNECTION}`);
    await page.locator('[data-test="decisions-page"][data-hydrated="true"]').waitFor({ timeout: 30_000 });
    await page.locator('[data-test="live-status"]', { hasText: "live" }).waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('[data-test="nav-decisions"]').getAttribute("aria-current"), "page");

    const name = `e2e-dl-${suffix}`;
    create(name);
    const row = page.locator(`[data-test="decision-row"][data-instance="${name}"]`);
    await row.waitFor({ timeout: 10_000 });
    const appeared = Date.now();
    const happened = Date.parse(await row.getAttribute("data-time"));
    const delay = appeared - happened;
    console.log(`the create appeared on the page ${delay} ms after Incus placed it`);
    assert.ok(delay < 2_000, `${delay} ms`);
    const member = incus("list", "--project", "default", "--format", "csv", "-c", "L", `^${name}$`).trim();
    assert.equal(await row.getAttribute("data-member"), member);
    await row.locator('[data-test="decision-logs"] summary').click();
    assert.match(await row.locator('[data-test="decision-logs"]').innerText(), new RegExp(`e2e placing ${name} among`));
    // Predicted (and agreeing) a moment later, in place.
    await page.locator(`[data-test="decision-row"][data-instance="${name}"][data-outcome="agrees"]`).waitFor({ timeout: 15_000 });
    await page.locator('[data-test="agreement-chart"]').waitFor();
    await screenshot(page, "decisions");
    // One click into the sandbox: the editor on the decision's snapshot and request.
    await row.locator('[data-test="open-sandbox"]').click();
    await page.waitForURL((url) => url.pathname.startsWith("/scriptlets/"));
    assert.match(decodeURIComponent(page.url()), new RegExp(`"name":"${name}"`));
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    await api("PATCH", `/api/v1/connections/${CONNECTION}`, { decision_log: false });
  }
});

test("a viewer reads and filters the log without JavaScript", async (t) => {
  if (!TESTBED_SOCKET) {
    t.skip(NO_TESTBED);
    return;
  }
  const viewer = await addUser("dora", "viewer");
  const browser = await openBrowser({ signedIn: false, javaScriptEnabled: false });
  try {
    const page = await browser.context.newPage();
    await signIn(page, viewer.username, viewer.password, `/decisions?connection=${CONNECTION}`);
    await page.locator('[data-test="decision-row"]').first().waitFor();
    assert.ok(await page.locator('[data-test="decision-row"]').count() >= 2);
    await page.locator('[data-test="filter-outcome"]').selectOption("differs");
    await page.locator('[data-test="apply-filters"]').click();
    await page.waitForURL((url) => url.searchParams.get("outcome") === "differs");
    await page.locator('[data-test="decisions-empty"]').waitFor();
  } finally {
    await browser.close();
    await api("DELETE", `/api/v1/connections/${CONNECTION}`);
  }
});
