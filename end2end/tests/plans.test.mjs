// Migration plans in the browser: an author builds a plan on the real test bed's snapshot
// (two stopped containers from `default` to `proj-b`), previews and submits it; a reviewer
// comments and approves; an operator executes it and watches both moves succeed live. Also:
// what a viewer may see, the author may not approve, and the finished plan without JavaScript.
// Takes the README's screenshot of a finished plan (plans.png).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { before, test } from "node:test";

import { addUser, api, BASE_URL, openBrowser, screenshot, signIn, waitForServer, watchProblems } from "./support.mjs";

/** Set by scripts/test.sh: the unix socket of the test bed's first member. */
const TESTBED_SOCKET = process.env.TESTBED_SOCKET;
const NO_TESTBED = "TESTBED_SOCKET is not set: the plan is executed on the real Incus test bed (scripts/testbed.sh)";
const CONNECTION = "testbed";

let viewer;

before(async () => {
  await waitForServer();
  viewer = await addUser("vic", "viewer");
});

/** The `incus` command line against the test bed (its first member's socket). */
function incus(...args) {
  return execFileSync("incus", args, {
    env: { ...process.env, INCUS_DIR: dirname(TESTBED_SOCKET) },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 120_000,
  });
}

/** The instance names of a project on the test bed. */
function instancesIn(project) {
  return incus("list", "--project", project, "--format", "csv", "-c", "n").split("\n").filter(Boolean);
}

async function waitForPage(page, test) {
  await page.locator(`[data-test="${test}"][data-hydrated="true"]`).waitFor({ timeout: 30_000 });
}

/** Waits until the plan's state badge says `state`. */
async function waitForState(page, state, timeout = 30_000) {
  await page.locator(`[data-test="plan-state"][data-state="${state}"]`).waitFor({ timeout });
}

test("a viewer sees the plans but may not build one", async () => {
  const browser = await openBrowser({ signedIn: false });
  try {
    const page = await browser.context.newPage();
    const problems = watchProblems(page);
    await signIn(page, viewer.username, viewer.password, "/plans");
    await waitForPage(page, "plans-page");
    assert.equal(await page.locator('[data-test="nav-plans"]').getAttribute("aria-current"), "page");
    assert.equal(await page.locator('[data-test="new-plan"]').count(), 0);
    const refused = await page.goto(`${BASE_URL}/plans/new`);
    assert.equal(refused.status(), 403);
    const missing = await page.goto(`${BASE_URL}/plans/999999999`);
    assert.equal(missing.status(), 404);
    await page.locator('[data-test="error"]').waitFor();
    assert.deepEqual(problems.filter((p) => !/\b(403|404)\b/.test(p)), []);
  } finally {
    await browser.close();
  }
});

test("on the demo snapshot a plan is drafted, previewed and approved by another user, not executed", async () => {
  const [author, reviewer, operator] = [
    await addUser("dan", "author"), await addUser("dee", "reviewer"), await addUser("dom", "operator"),
  ];
  const snapshots = await api("GET", "/api/v1/snapshots");
  const demo = snapshots.body.find((snapshot) => snapshot.source === "demo");
  assert.ok(demo, JSON.stringify(snapshots.body));
  const browsers = [];
  try {
    const authorBrowser = await openBrowser({ signedIn: false });
    browsers.push(authorBrowser);
    const page = await authorBrowser.context.newPage();
    const problems = watchProblems(page);
    await signIn(page, author.username, author.password, `/plans/new?snapshot=${demo.id}`);
    await waitForPage(page, "plan-builder");
    await page.locator('[data-test="review-only"]').waitFor();
    assert.match(await page.locator('[data-test="builder-snapshot"]').innerText(), new RegExp(`#${demo.id}\\b`));
    await page.locator('[data-test="filter-project"]').selectOption("legacy");
    const stopped = page.locator('[data-test="builder-instance"][data-status="Stopped"]').first();
    const instance = await stopped.getAttribute("data-instance");
    await stopped.locator('[data-test="pick-instance"]').check();
    await page.locator('[data-test="target-project"]').selectOption("default");
    await page.locator('[data-test="add-selected"]').click();
    await page.locator(`[data-test="builder-move"][data-instance="${instance}"]`).waitFor();
    await page.locator('[data-test="plan-name"]').fill(`demo review ${Date.now().toString(36)}`);
    await page.locator('[data-test="save-plan"]').click();
    await page.waitForURL(/\/plans\/\d+$/);
    const planId = Number(new URL(page.url()).pathname.split("/").pop());
    await waitForPage(page, "plan-page");
    await page.locator('[data-test="preview-plan"]').click();
    await page.locator('[data-test="preview-stamp"]', { hasText: `Previewed on snapshot #${demo.id}` }).waitFor();
    await page.locator('[data-test="submit-plan"]').click();
    await waitForState(page, "in_review");
    assert.equal(await page.locator('[data-test="approve-plan"]').count(), 0, "the author does not approve");
    const version = await page.locator('[data-test="plan-version"]').innerText();
    assert.deepEqual(problems, []);

    const reviewerBrowser = await openBrowser({ signedIn: false });
    browsers.push(reviewerBrowser);
    const review = await reviewerBrowser.context.newPage();
    const reviewProblems = watchProblems(review);
    await signIn(review, reviewer.username, reviewer.password, `/plans/${planId}`);
    await waitForPage(review, "plan-page");
    await waitForState(review, "in_review");
    assert.equal(await review.locator('[data-test="approve-plan"]').innerText(), `Approve version ${version}`);
    await review.locator('[data-test="approve-plan"]').click();
    await waitForState(review, "approved");
    assert.deepEqual(reviewProblems, []);

    // Reviewed on a snapshot without a connection: nobody can execute it.
    const operatorBrowser = await openBrowser({ signedIn: false });
    browsers.push(operatorBrowser);
    const run = await operatorBrowser.context.newPage();
    await signIn(run, operator.username, operator.password, `/plans/${planId}`);
    await waitForPage(run, "plan-page");
    await waitForState(run, "approved");
    assert.equal(await run.locator('[data-test="execute-plan"]').count(), 0);
    const refused = await api("POST", `/api/v1/plans/${planId}/execute`);
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
  } finally {
    for (const browser of browsers) await browser.close();
  }
});

test("each plan action is a form posted to its own endpoint: a comment without JavaScript, skip, cancel, a refused submit shown with and without JavaScript", async () => {
  const snapshots = await api("GET", "/api/v1/snapshots");
  const demo = snapshots.body.find((snapshot) => snapshot.source === "demo");
  const exported = await api("GET", `/api/v1/snapshots/${demo.id}`);
  const names = exported.body.instances.filter((instance) => instance.project === "legacy").slice(0, 2)
    .map((instance) => instance.name);
  assert.equal(names.length, 2, "the demo has two instances in legacy");
  const created = await api("POST", "/api/v1/plans", {
    name: `forms ${Date.now().toString(36)}`,
    snapshot_id: demo.id,
    moves: names.map((name) => ({ project: "legacy", name, target_project: "default", target: "" })),
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const planId = created.body.id;
  const browsers = [];
  try {
    // Without JavaScript a form is posted by the browser, and the server sends it back.
    const plain = await openBrowser({ javaScriptEnabled: false });
    browsers.push(plain);
    const still = await plain.context.newPage();
    await still.goto(`${BASE_URL}/plans/${planId}`);
    await still.locator('[data-test="comment-body"]').fill("Moving legacy first: fine.");
    await Promise.all([still.waitForNavigation(), still.locator('[data-test="add-comment"]').click()]);
    // (leptos_axum sends it back to the Referer, with an empty query where its error would be)
    assert.equal(new URL(still.url()).pathname, `/plans/${planId}`);
    await still.locator('[data-test="comment"]', { hasText: "Moving legacy first" }).waitFor();

    const browser = await openBrowser();
    browsers.push(browser);
    const page = await browser.context.newPage();
    const problems = watchProblems(page);
    const posted = [];
    page.on("request", (request) => {
      if (request.method() === "POST") posted.push(new URL(request.url()).pathname);
    });
    await page.goto(`${BASE_URL}/plans/${planId}`);
    await waitForPage(page, "plan-page");

    // Skipping the second move: its form, sent without leaving the page.
    await page.evaluate(() => { window.__berthNoReload = true; });
    const second = page.locator('[data-test="move-row"][data-position="2"]');
    await second.locator('[data-test="skip-move"]').click();
    await second.locator('[data-test="skip-reason"]').fill("kept where it is for now");
    await second.locator('[data-test="confirm-skip"]').click();
    await second.locator('[data-test="skipped"]', { hasText: "kept where it is for now" }).waitFor();
    assert.deepEqual(posted, ["/api/skip_plan_move"]);

    // A second tab cancels the plan; this one, still showing a draft, submits it: the server's
    // refusal is shown as it said it, and the page then shows the plan as it is.
    const other = await browser.context.newPage();
    await other.goto(`${BASE_URL}/plans/${planId}`);
    await waitForPage(other, "plan-page");
    await other.locator('[data-test="cancel-plan"]').click();
    await other.locator('[data-test="confirm-cancel"]').click();
    await waitForState(other, "cancelled");
    await page.locator('[data-test="submit-plan"]').click();
    const refusal = page.locator('[data-test="action-errors"] [data-test="error"]');
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /cancel/i);
    await waitForState(page, "cancelled");
    assert.equal(await page.evaluate(() => window.__berthNoReload), true, "the page was reloaded");
    assert.deepEqual(posted, ["/api/skip_plan_move", "/api/submit_plan"]);
    assert.deepEqual(problems.filter((problem) => !/\b400\b/.test(problem)), []);

    // The page without JavaScript still shows the draft: its submit is refused too, and the
    // browser is sent back to the plan, which shows the refusal.
    await Promise.all([still.waitForNavigation(), still.locator('[data-test="submit-plan"]').click()]);
    assert.equal(new URL(still.url()).pathname, `/plans/${planId}`);
    assert.match(await still.locator('[data-test="action-errors"] [data-test="error"]').innerText(), /cancel/i);
    await waitForState(still, "cancelled");
  } finally {
    for (const browser of browsers) await browser.close();
  }
});

test("a plan is built, previewed, reviewed and executed on the test bed, followed live", async (t) => {
  if (!TESTBED_SOCKET) {
    t.skip(NO_TESTBED);
    return;
  }
  assert.ok(existsSync(TESTBED_SOCKET), TESTBED_SOCKET);
  const suffix = Date.now().toString(36);
  const names = [`e2e-plan-1-${suffix}`, `e2e-plan-2-${suffix}`];
  const [author, reviewer, operator] = [
    await addUser("ann", "author"), await addUser("rex", "reviewer"), await addUser("opa", "operator"),
  ];
  const browsers = [];
  try {
    const added = await api("POST", "/api/v1/connections", { name: CONNECTION, remote: `unix://${TESTBED_SOCKET}` });
    assert.ok([201, 409].includes(added.status), JSON.stringify(added.body));
    // Created, not started: stopped containers move without a live migration.
    for (const name of names) incus("create", "busybox", name, "--project", "default", "--quiet");
    const captured = await api("POST", `/api/v1/connections/${CONNECTION}/capture`);
    assert.equal(captured.status, 201, JSON.stringify(captured.body));

    // The author builds the plan from the snapshot just captured.
    const authorBrowser = await openBrowser({ signedIn: false });
    browsers.push(authorBrowser);
    const page = await authorBrowser.context.newPage();
    const problems = watchProblems(page);
    await page.setViewportSize({ width: 1440, height: 900 });
    await signIn(page, author.username, author.password, `/plans/new?connection=${CONNECTION}`);
    await waitForPage(page, "plan-builder");
    assert.match(await page.locator('[data-test="builder-snapshot"]').innerText(), new RegExp(`#${captured.body.id}\\b`));
    await page.locator('[data-test="filter-project"]').selectOption("default");
    await page.locator('[data-test="filter-name"]').fill(suffix);
    await page.locator('[data-test="builder-instance"]').nth(1).waitFor();
    assert.equal(await page.locator('[data-test="builder-instance"]').count(), 2);
    await page.locator('[data-test="pick-all"]').check();
    await page.locator('[data-test="target-project"]').selectOption("proj-b");
    await page.locator('[data-test="add-selected"]').click();
    await page.locator('[data-test="builder-move"]').nth(1).waitFor();
    assert.deepEqual(
      (await page.locator('[data-test="builder-move"]').evaluateAll((rows) => rows.map((row) => row.dataset.instance))).sort(),
      names.map((name) => `default/${name}`),
    );
    await page.locator('[data-test="plan-name"]').fill(`e2e move ${suffix}`);
    assert.equal(await page.locator('[data-test="stop-on-failure"]').isChecked(), true);
    await page.locator('[data-test="save-plan"]').click();
    await page.waitForURL(/\/plans\/\d+$/);
    const planId = Number(new URL(page.url()).pathname.split("/").pop());
    await waitForPage(page, "plan-page");
    await waitForState(page, "draft");
    assert.equal(await page.locator('[data-test="preview-stamp"]').innerText(), "Not previewed yet.");

    // Preview: every move gets a verdict and a decision on a snapshot taken now.
    await page.locator('[data-test="preview-plan"]').click();
    await page.locator('[data-test="preview-stamp"]', { hasText: "Previewed on snapshot #" }).waitFor({ timeout: 60_000 });
    const verdicts = await page.locator('[data-test="move-row"] [data-test="verdict"]').evaluateAll(
      (badges) => badges.map((badge) => badge.dataset.verdict));
    assert.equal(verdicts.length, 2);
    assert.ok(verdicts.every((verdict) => ["ready", "warning"].includes(verdict)), verdicts.join());
    await page.locator('[data-test="load-chart"] [data-test="load-row"]').first().waitFor();

    await page.locator('[data-test="submit-plan"]').click();
    await waitForState(page, "in_review");
    // The author may not approve their own plan: no button, and the server refuses.
    assert.equal(await page.locator('[data-test="approve-plan"]').count(), 0);
    const version = Number(await page.locator('[data-test="plan-version"]').innerText());
    const approveStatus = await page.evaluate(async ([id, version]) => {
      const token = document.querySelector('meta[name="csrf-token"]').content;
      const response = await fetch("/api/approve_plan", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "x-csrf-token": token },
        body: `id=${id}&version=${version}`,
      });
      return response.status;
    }, [planId, version]);
    assert.equal(approveStatus, 403);
    assert.deepEqual(problems.filter((p) => !/\b403\b/.test(p)), []);

    // The reviewer comments on the first move and approves.
    const reviewerBrowser = await openBrowser({ signedIn: false });
    browsers.push(reviewerBrowser);
    const review = await reviewerBrowser.context.newPage();
    const reviewProblems = watchProblems(review);
    await signIn(review, reviewer.username, reviewer.password, `/plans/${planId}`);
    await waitForPage(review, "plan-page");
    await waitForState(review, "in_review");
    await review.locator('[data-test="comment-body"]').fill("Both are stopped: fine to move now.");
    await review.locator('[data-test="comment-position"]').selectOption("1");
    await review.locator('[data-test="add-comment"]').click();
    await review.locator('[data-test="comment"]', { hasText: "fine to move now" }).waitFor();
    assert.equal(await review.locator('[data-test="execute-plan"]').count(), 0);
    await review.locator('[data-test="approve-plan"]').click();
    await waitForState(review, "approved");
    assert.match(await review.locator('[data-test="approvals"]').innerText(), new RegExp(`^1 of 1 \\(${reviewer.username}\\)`));
    assert.deepEqual(reviewProblems, []);

    // The operator executes it and watches the moves finish without reloading the page.
    const operatorBrowser = await openBrowser({ signedIn: false });
    browsers.push(operatorBrowser);
    const run = await operatorBrowser.context.newPage();
    const runProblems = watchProblems(run);
    await run.setViewportSize({ width: 1440, height: 1000 });
    await signIn(run, operator.username, operator.password, `/plans/${planId}`);
    await waitForPage(run, "plan-page");
    await waitForState(run, "approved");
    await run.evaluate(() => { window.__berthNoReload = true; });
    await run.locator('[data-test="execute-plan"]').click();
    try {
      await run.waitForFunction(
        () => document.querySelectorAll('[data-test="move-row"][data-state="succeeded"]').length === 2,
        null, { timeout: 60_000, polling: 250 });
      await waitForState(run, "succeeded", 60_000);
    } catch (error) {
      // What the server says of the plan tells a slow move from a failed or superseded one.
      const status = await api("GET", `/api/v1/plans/${planId}`);
      const timeline = await api("GET", `/api/v1/plans/${planId}/timeline`);
      throw new Error(`${error.message}\nthe plan now: ${JSON.stringify(status.body)}`
        + `\nits timeline: ${JSON.stringify(timeline.body)}`);
    }
    assert.equal(await run.evaluate(() => window.__berthNoReload), true, "the page was reloaded");
    const durations = await run.locator('[data-test="move-duration"]').count();
    assert.equal(durations, 2);
    assert.equal(await run.locator('[data-test="move-error"]').count(), 0);
    // A finished plan can be reversed, not executed again.
    assert.equal(await run.locator('[data-test="execute-plan"]').count(), 0);
    await run.locator('[data-test="reverse-plan"]').waitFor();
    const kinds = await run.locator('[data-test="timeline-row"]').evaluateAll((rows) => rows.map((row) => row.dataset.kind));
    assert.ok(kinds.length >= 4, kinds.join());
    await screenshot(run, "plans");
    assert.deepEqual(runProblems, []);

    // Reversing it drafts the way back, and the page opens that draft.
    await run.locator('[data-test="reverse-plan"]').click();
    await run.waitForURL((url) => url.pathname !== `/plans/${planId}`);
    await waitForPage(run, "plan-page");
    await waitForState(run, "draft");
    assert.equal(await run.locator('[data-test="reverse-of"] a').getAttribute("href"), `/plans/${planId}`);
    assert.deepEqual(runProblems, []);

    // Incus agrees.
    const moved = instancesIn("proj-b");
    for (const name of names) assert.ok(moved.includes(name), `${name} is in proj-b: ${moved.join()}`);

    // The list shows it finished.
    await run.goto(`${BASE_URL}/plans`);
    await waitForPage(run, "plans-page");
    const row = run.locator(`[data-test="plan-row"][data-plan="${planId}"]`);
    assert.equal(await row.locator(".badge.state").getAttribute("data-state"), "succeeded");

    // Without JavaScript the finished plan is whole: the moves, their states, the load chart.
    const plain = await openBrowser({ javaScriptEnabled: false });
    browsers.push(plain);
    const still = await plain.context.newPage();
    await still.goto(`${BASE_URL}/plans/${planId}`);
    assert.equal(await still.locator('[data-test="move-row"][data-state="succeeded"]').count(), 2);
    assert.ok(await still.locator('[data-test="load-chart"] svg rect').count() >= 2);
  } finally {
    for (const browser of browsers) await browser.close();
    for (const name of names) {
      for (const project of ["proj-b", "default"]) {
        try { incus("delete", "--force", name, "--project", project); } catch { /* not there */ }
      }
    }
  }
});
