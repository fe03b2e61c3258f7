// The Cluster page: server-rendered, hydrated, filterable without a reload.
import assert from "node:assert/strict";
import { before, test } from "node:test";

import {
  BASE_URL, get, openBrowser, shownGroups, shownMembers, waitForHydration, waitForServer, watchProblems,
} from "./support.mjs";

const DEMO_MEMBERS = [
  "hv-a01", "hv-a02", "hv-a03", "hv-a04", "hv-a05",
  "hv-b01", "hv-b02", "hv-b03", "hv-b04", "hv-b05",
  "hv-e01", "hv-e02", "hv-e03", "hv-e04",
];

before(waitForServer);

test("the server renders the demo cluster and serves the bundle", async () => {
  const page = await get("/");
  assert.equal(page.status, 200);
  for (const member of DEMO_MEMBERS) assert.match(page.body, new RegExp(`data-member="${member}"`));
  assert.match(page.body, /<title>Cluster · Berth<\/title>/);
  assert.match(page.body, /data-hydrated="false"/);
  for (const asset of ["/pkg/berth.js", "/pkg/berth_bg.wasm", "/pkg/berth.css", "/favicon.svg"]) {
    const response = await get(asset);
    assert.equal(response.status, 200, asset);
  }
});

test("reading the cluster needs a session: visitors are sent to sign in", async () => {
  const page = await get("/?group=edge", { anonymous: true });
  assert.equal(page.status, 303);
  assert.equal(page.headers.get("location"), "/login?next=%2F%3Fgroup%3Dedge");
  const api = await get("/api/cluster_view", { anonymous: true });
  assert.equal(api.status, 401);
});

test("an unknown page is a 404 with the navigation still there", async () => {
  const page = await get("/no-such-page");
  assert.equal(page.status, 404);
  assert.match(page.body, /Not found/);
  assert.match(page.body, /data-test="nav-cluster"/);
});

test("the page hydrates and filters by cluster group without reloading", async () => {
  const browser = await openBrowser();
  try {
    const page = await browser.context.newPage();
    const problems = watchProblems(page);
    await page.goto(`${BASE_URL}/`);
    await waitForHydration(page);

    assert.deepEqual(await shownMembers(page), DEMO_MEMBERS);
    assert.deepEqual(await shownGroups(page), ["rack-a", "rack-b", "edge", "nvme"]);
    // Every section is built: none is marked as coming, and Plans is a link.
    assert.equal(await page.locator('[data-test="nav-coming"]').count(), 0);
    assert.equal(await page.locator('[data-test="nav-plans"]').getAttribute("href"), "/plans");

    // A marker on window survives client-side navigation but not a reload.
    await page.evaluate(() => { window.__berthNoReload = true; });
    await page.locator('[data-test="group-chip"][data-group="edge"]').click();
    await page.waitForURL(/group=edge/);
    await page.locator('[data-test="group-section"][data-group="rack-a"]').waitFor({ state: "detached" });
    await page.locator('[data-test="group-section"][data-group="edge"] [data-test="member"]').first().waitFor();
    assert.deepEqual(await shownGroups(page), ["edge"]);
    assert.deepEqual(await shownMembers(page), ["hv-e01", "hv-e02", "hv-e03", "hv-e04"]);
    assert.equal(await page.evaluate(() => window.__berthNoReload), true, "the page was reloaded");

    // The name filter is client state: it narrows the shown group as one types.
    await page.locator('[data-test="member-search"]').fill("e04");
    await page.locator('[data-test="member"][data-member="hv-e01"]').waitFor({ state: "detached" });
    assert.deepEqual(await shownMembers(page), ["hv-e04"]);

    // Back to all groups, still without a reload.
    await page.locator('[data-test="member-search"]').fill("");
    await page.locator('[data-test="group-chip"][data-group=""]').click();
    await page.locator('[data-test="group-section"][data-group="rack-a"]').waitFor();
    assert.deepEqual(await shownMembers(page), DEMO_MEMBERS);
    assert.equal(await page.evaluate(() => window.__berthNoReload), true, "the page was reloaded");

    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
  }
});

test("a group link works with JavaScript disabled", async () => {
  const browser = await openBrowser({ javaScriptEnabled: false });
  try {
    const page = await browser.context.newPage();
    await page.goto(`${BASE_URL}/`);
    await page.locator('[data-test="group-chip"][data-group="rack-b"]').click();
    await page.waitForURL(/group=rack-b/);
    assert.deepEqual(await shownGroups(page), ["rack-b"]);
    assert.deepEqual(await shownMembers(page), ["hv-b01", "hv-b02", "hv-b03", "hv-b04", "hv-b05"]);
    const offline = page.locator('[data-test="member"][data-member="hv-b04"]');
    assert.equal(await offline.getAttribute("data-status"), "Offline");
    assert.match(await offline.locator('[data-test="member-message"]').textContent(), /^No heartbeat for 1m47/);
    assert.equal(await page.locator('[data-test="member"][data-status="Online"] [data-test="member-message"]').count(), 0);
  } finally {
    await browser.close();
  }
});

test("the projects table shows each project's placement restrictions", async () => {
  const browser = await openBrowser();
  try {
    const page = await browser.context.newPage();
    await page.goto(`${BASE_URL}/`);
    const ci = page.locator('[data-test="project"][data-project="ci"]');
    const text = await ci.innerText();
    assert.match(text, /restricted/);
    assert.match(text, /groups: rack-b/);
    assert.match(text, /target: block/);
    const legacy = await page.locator('[data-test="project"][data-project="legacy"]').innerText();
    assert.match(legacy, /from default/);
  } finally {
    await browser.close();
  }
});
