// The Impact page in the browser: an author saves two revisions of a scriptlet, opens Impact
// for them on the demo snapshot, watches the replay finish, sees the changed decisions (exactly
// the instances the second revision sends to NVMe members) and the load chart, sorts the
// table, downloads the CSV; the page's URL replays the same again. Takes the README's
// screenshot of the Impact page (impact.png).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, test } from "node:test";

import { addUser, api, BASE_URL, openBrowser, screenshot, signIn, waitForServer, watchProblems } from "./support.mjs";

/** The first candidate outside the `nvme` group. */
const BEFORE = `def instance_placement(request, candidate_members):
    others = [m.server_name for m in candidate_members if "nvme" not in m.groups]
    if others:
        set_target(others[0])
`;
/** The same, except \`user.app=api\` goes to the first \`nvme\` member. */
const AFTER = `def instance_placement(request, candidate_members):
    nvme = [m.server_name for m in candidate_members if "nvme" in m.groups]
    others = [m.server_name for m in candidate_members if "nvme" not in m.groups]
    if request.config.get("user.app", "") == "api" and nvme:
        set_target(nvme[0])
    elif others:
        set_target(others[0])
`;

let author;
let demoSnapshot;
let scriptlet;

before(async () => {
  await waitForServer();
  author = await addUser("imp", "author");
  const snapshots = await api("GET", "/api/v1/snapshots");
  demoSnapshot = snapshots.body.find((snapshot) => snapshot.source === "demo");
  const created = await api("POST", "/api/v1/scriptlets", { name: `impact-${Date.now().toString(36)}`, source: BEFORE });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  scriptlet = created.body.id;
  const revised = await api("POST", `/api/v1/scriptlets/${scriptlet}/revisions`, { source: AFTER, message: "api on nvme" });
  assert.equal(revised.status, 201, JSON.stringify(revised.body));
});

/** The demo's instances labelled user.app=api, as PROJECT/NAME, from the snapshot itself. */
async function apiInstances() {
  const exported = await api("GET", `/api/v1/snapshots/${demoSnapshot.id}`);
  return exported.body.instances
    .filter((i) => (i.expanded_config ?? {})["user.app"] === "api")
    .map((i) => `${i.project}/${i.name}`)
    .sort();
}

test("an author replays two revisions on the demo and sees the changed decisions and the chart", async () => {
  const browser = await openBrowser({ signedIn: false });
  try {
    const page = await browser.context.newPage();
    const problems = watchProblems(page);
    await page.setViewportSize({ width: 1440, height: 1000 });
    await signIn(page, author.username, author.password, "/impact");
    await page.locator('[data-test="impact-page"][data-hydrated="true"]').waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('[data-test="nav-impact"]').getAttribute("aria-current"), "page");

    await page.locator('[data-test="impact-snapshot"]').selectOption(String(demoSnapshot.id));
    await page.locator('[data-test="impact-scriptlet"]').selectOption(String(scriptlet));
    await page.locator('[data-test="impact-from"]').selectOption("1");
    await page.locator('[data-test="impact-to"]').selectOption("2");
    await page.locator('[data-test="impact-run"]').click();
    const summary = page.locator('[data-test="impact-summary"]');
    await summary.waitFor({ timeout: 60_000 });

    const expected = await apiInstances();
    assert.ok(expected.length > 0);
    assert.match(await summary.textContent(), new RegExp(`^320 instances, ${expected.length} changed, 0 new errors`));
    const rows = page.locator('[data-test="changed-row"]');
    const shown = (await rows.evaluateAll((all) => all.map((row) => row.dataset.instance))).sort();
    assert.deepEqual(shown, expected);
    // Every changed decision lands on an NVMe member (hv-a01, hv-a02, hv-b01, hv-b02 in the demo).
    for (const to of await page.locator('[data-test="changed-to"]').allTextContents()) {
      assert.match(to, /^hv-(a0[12]|b0[12])/);
    }
    // The chart: one row per member, and the NVMe members gain what the others lose.
    const loads = await page.locator('[data-test="load-row"]').evaluateAll((all) =>
      all.map((g) => ({ member: g.dataset.member, before: Number(g.dataset.before), after: Number(g.dataset.after) })));
    assert.equal(loads.length, demoSnapshot.member_count);
    const gain = loads.filter((l) => l.after > l.before).reduce((sum, l) => sum + l.after - l.before, 0);
    const loss = loads.filter((l) => l.after < l.before).reduce((sum, l) => sum + l.before - l.after, 0);
    assert.ok(gain > 0);
    assert.equal(gain, loss);

    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, "impact");

    // Sorting by the member before, then descending.
    await page.locator('[data-test="sort-before"]').click();
    const before = await page.locator('[data-test="changed-from"]').allTextContents();
    assert.deepEqual(before, [...before].sort());
    await page.locator('[data-test="sort-before"]').click();
    const descending = await page.locator('[data-test="changed-from"]').allTextContents();
    assert.deepEqual(descending, [...before].reverse());

    // The CSV holds the same instances.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.locator('[data-test="impact-csv"]').click(),
    ]);
    const csv = readFileSync(await download.path(), "utf8").trim().split("\n");
    assert.equal(csv[0], "instance,location,from_member,from_error,to_member,to_error");
    assert.deepEqual(csv.slice(1).map((line) => line.split(",")[0]).sort(), expected);

    // The URL is the replay: opened again, it replays the same.
    const url = page.url();
    assert.match(url, /\/impact\?snapshot=\d+&scriptlet=\d+&from=1&to=2/);
    const again = await browser.context.newPage();
    await again.goto(url);
    await again.locator('[data-test="impact-summary"]').waitFor({ timeout: 60_000 });
    assert.equal(await again.locator('[data-test="changed-row"]').count(), expected.length);
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
  }
});

test("a revision that does not compile is reported, and a replay can be cancelled", async () => {
  const broken = await api("POST", `/api/v1/scriptlets/${scriptlet}/revisions`, {
    source: "def instance_placement(request, candidate_members):\n    set_target(\n", message: "broken",
  });
  assert.equal(broken.status, 201, JSON.stringify(broken.body));
  const browser = await openBrowser({ signedIn: false });
  try {
    const page = await browser.context.newPage();
    await signIn(page, author.username, author.password,
      `/impact?snapshot=${demoSnapshot.id}&scriptlet=${scriptlet}&from=1&to=${broken.body.number}`);
    const failed = page.locator('[data-test="replay-failed"]');
    await failed.waitFor({ timeout: 60_000 });
    assert.match(await failed.textContent(), /the to revision/);

    // Cancel while it runs (a revision slow enough to watch): the page says so, no result.
    const slow = await api("POST", `/api/v1/scriptlets/${scriptlet}/revisions`, {
      source: "def instance_placement(request, candidate_members):\n    for i in range(300000):\n        pass\n",
      message: "slow",
    });
    assert.equal(slow.status, 201, JSON.stringify(slow.body));
    await page.goto(`${BASE_URL}/impact?snapshot=${demoSnapshot.id}&scriptlet=${scriptlet}&from=1&to=${slow.body.number}`);
    const cancel = page.locator('[data-test="replay-cancel"]');
    await cancel.waitFor({ timeout: 30_000 });
    await cancel.click();
    await page.locator('[data-test="replay-cancelled"]').waitFor();
    assert.equal(await page.locator('[data-test="impact-summary"]').count(), 0);
  } finally {
    await browser.close();
  }
});
