// The assurance loop as an author goes through it: the reason × version matrix shows a red
// cell in one version's column, the fuzzer finds the call behind it, the call opens in the
// sandbox, becomes a golden case that fails, the author types the fix, and the case passes
// (and the matrix is clean again).
import assert from "node:assert/strict";
import { before, test } from "node:test";

import { addUser, api, openBrowser, screenshot, signIn, waitForServer, watchProblems } from "./support.mjs";

/** Names what each reason did in its log, from a table that predates 7.0's `rebalance`: a
 *  rebalance's call raises (a key missing from the dict), every other call places. */
const UNAWARE = [
  "# What the log says each reason did.",
  "DONE = {",
  "    \"new\": \"created\",",
  "    \"relocation\": \"moved\",",
  "    \"evacuation\": \"evacuated\",",
  "}",
  "",
  "def instance_placement(request, candidate_members):",
  "    # The candidate running the fewest instances.",
  "    done = DONE[request.reason]",
  "    best = None",
  "    best_count = 0",
  "    for member in candidate_members:",
  "        count = get_instances_count(location=member.server_name)",
  "        if best == None or count < best_count:",
  "            best = member.server_name",
  "            best_count = count",
  "    if best != None:",
  "        log_info(request.name, \" \", done, \" to \", best)",
  "        set_target(best)",
  "",
].join("\n");
/** The line that raises on a rebalance. */
const RAISING_LINE = UNAWARE.split("\n").indexOf("    done = DONE[request.reason]") + 1;
/** The fix, typed after the evacuation's entry (Enter keeps the dict's indentation). */
const FIXED = UNAWARE.replace("    \"evacuation\": \"evacuated\",\n", "    \"evacuation\": \"evacuated\",\n    \"rebalance\": \"rebalanced\",\n");

let author;
let demoSnapshot;

before(async () => {
  await waitForServer();
  author = await addUser("ann", "author");
  const snapshots = await api("GET", "/api/v1/snapshots");
  demoSnapshot = snapshots.body.find((snapshot) => snapshot.source === "demo");
  assert.ok(demoSnapshot, JSON.stringify(snapshots.body));
});

async function waitForWorkspace(page) {
  await page.locator('[data-test="workspace"][data-hydrated="true"]').waitFor({ timeout: 30_000 });
  await page.locator(".cm-editor .cm-content").waitFor();
}

async function editorText(page) {
  return (await page.locator(".cm-content .cm-line").allTextContents()).join("\n");
}

/** The matrix's cells as `version situation outcome`, in the table's order. */
async function matrixCells(page) {
  return page.locator('[data-test="matrix-cell"]').evaluateAll((cells) => cells.map(
    (cell) => `${cell.dataset.version} ${cell.dataset.situation} ${cell.dataset.outcome}`));
}

/** Clicks Run matrix (each run is a new URL, `mrun=N`) and waits for a summary with `text`
 *  (the result shown before stays while the next one runs). */
async function runMatrix(page, run, text) {
  await page.locator('[data-test="matrix-run"]').click();
  await page.waitForURL(new RegExp(`[?&]mrun=${run}(&|$)`));
  await page.locator('[data-test="matrix-summary"]', { hasText: text }).waitFor({ timeout: 30_000 });
}

test("an author finds a version's failure with the matrix and the fuzzer, pins it as a golden case and fixes it", async () => {
  const name = `reasons-${Date.now().toString(36)}`;
  const created = await api("POST", "/api/v1/scriptlets", { name, source: UNAWARE, message: "labels per reason" });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const browser = await openBrowser({ signedIn: false });
  try {
    const page = await browser.context.newPage();
    const problems = watchProblems(page);
    await page.setViewportSize({ width: 1680, height: 1050 });
    await signIn(page, author.username, author.password,
      `/scriptlets/${created.body.id}?snapshot=${demoSnapshot.id}&kind=create&project=default`);
    await waitForWorkspace(page);
    assert.equal(await editorText(page), UNAWARE.replace(/\n$/, "\n"));
    // A create places: nothing is wrong in the scenario the author looks at.
    await page.locator('[data-test="timeline-upstream"] [data-test="outcome-placed"]').first().waitFor();

    // The Matrix tab on four versions: one red cell, 7.0's rebalance (the only version that
    // sends it); every other cell of every version places.
    await page.locator('[data-test="tab-matrix"]').click();
    await page.waitForURL(/[?&]tab=matrix/);
    const versions = page.locator('[data-test="matrix-versions"]');
    await versions.fill("6.0.4,6.6,6.7,7.0");
    await runMatrix(page, 1, "on Incus 6.0.4, 6.6, 6.7, 7.0:");
    assert.match(await page.locator('[data-test="matrix-summary"]').textContent(), /: 1 failing, /);
    const cells = await matrixCells(page);
    const failing = cells.filter((cell) => cell.endsWith(" fails"));
    assert.deepEqual(failing, ["7.0 rebalance fails"], cells.join(" | "));
    for (const version of ["6.0.4", "6.6", "6.7", "7.0"]) {
      assert.ok(cells.filter((cell) => cell.startsWith(`${version} `)).length >= 5, `${version}: ${cells.join(" | ")}`);
    }
    const red = page.locator('[data-test="matrix-cell"].fails');
    assert.equal(await red.count(), 1);
    assert.equal(await red.getAttribute("data-version"), "7.0");
    const raising = red.locator('[data-test="matrix-call"][data-outcome="error"]');
    assert.match(await raising.textContent(), /rebalance.*✗ raises.*rebalance/s);
    assert.match(await raising.textContent(), new RegExp(`line ${RAISING_LINE}\\b`));
    // The rebalance row has no cell for the versions before 7.0.
    assert.equal(await page.locator('[data-test="matrix-row"][data-situation="rebalance"] [data-test="matrix-absent"]').count(), 3);
    assert.ok(await page.locator('[data-test="matrix-lint"][data-code="unhandled-reason"]').count() >= 1);

    // Back to the scenario; the fuzzer on 6.6 and 7.0 finds the rebalance call.
    await page.locator('[data-test="tab-scenario"]').click();
    await page.waitForURL((url) => !url.searchParams.has("tab"));
    // The fuzzer's section is closed until opened; its controls load then.
    const fuzz = page.locator('[data-test="fuzz"]');
    assert.equal(await fuzz.getAttribute("open"), null);
    assert.equal(await page.locator('[data-test="fuzz-start"]').count(), 0);
    await fuzz.locator("summary").scrollIntoViewIfNeeded();
    await fuzz.locator("summary").focus();
    await page.keyboard.press("Enter");
    await page.locator('[data-test="fuzz-versions"]').fill("6.6,7.0");
    const progress = page.locator('[data-test="fuzz-progress"]');
    assert.equal(await page.locator('[data-test="fuzz-failure"]').count(), 0);
    const started = Date.now();
    await page.locator('[data-test="fuzz-start"]').click();
    await page.locator('[data-test="fuzz-progress"][data-running="true"]').waitFor();
    const found = page.locator('[data-test="fuzz-failure"]');
    await found.first().waitFor({ timeout: 35_000 });
    const foundAfter = Date.now() - started;
    // Found: the author stops the run (it would go on for 30 s).
    await page.locator('[data-test="fuzz-stop"]').click();
    await page.locator('[data-test="fuzz-progress"][data-running="false"]').waitFor({ timeout: 30_000 });
    console.log(`the fuzzer's first failure shown after ${foundAfter} ms; ${await progress.textContent()}`);
    assert.equal(await found.count(), 1, await page.locator('[data-test="fuzz-failures"]').textContent());
    assert.match(await progress.textContent(), /\d+ calls in \d+ rounds \(\d+ calls\/s\), 1 failure$/);
    assert.equal(await found.getAttribute("data-kind"), "error");
    assert.equal(await found.locator('[data-test="fuzz-line"]').textContent(), `line ${RAISING_LINE}`);
    assert.match(await found.textContent(), /rebalance/);
    await fuzz.scrollIntoViewIfNeeded();
    await screenshot(page, "fuzz");

    // Its line, one click away in the editor.
    await found.locator('[data-test="fuzz-line"]').click();
    assert.equal(await page.locator(".cm-activeLineGutter").first().textContent(), String(RAISING_LINE));

    // Opened in the sandbox: that one call, on 7.0, raises there.
    await found.locator('[data-test="fuzz-open"]').click();
    await page.waitForURL((url) => url.searchParams.get("version") === "7.0" && url.searchParams.has("call"));
    await page.locator('[data-test="call-scenario"]').waitFor();
    // The scenario form says which version runs (the URL writes it `7.0`).
    const versionField = page.locator('[data-test="scenario-version"]');
    await page.waitForFunction(() => document.querySelector('[data-test="scenario-version"]')?.value === "7.0.0",
      null, { timeout: 10_000 }).catch(async () => assert.fail(`the form shows "${await versionField.inputValue()}"`));
    const call = page.locator('[data-test="timeline-upstream"] [data-test="call"]');
    await call.locator('[data-test="diagnostic"]').waitFor({ timeout: 30_000 });
    assert.equal(await call.count(), 1);
    assert.equal(await call.locator('[data-test="call-reason"]').textContent(), "rebalance");
    assert.match(await call.locator('[data-test="diagnostic-message"]').textContent(), /rebalance/);
    assert.match(await call.locator('[data-test="diagnostic-place"]').textContent(), new RegExp(`^line ${RAISING_LINE},`));

    // Added to the golden cases, which then fail on it.
    // Added, the golden cases' section opens (it was closed) with the case in its list.
    assert.equal(await page.locator('[data-test="cases"]').getAttribute("open"), null);
    await found.locator('[data-test="fuzz-add"]').click();
    await page.locator('[data-test="cases-note"]').waitFor();
    assert.equal(await page.locator('[data-test="cases"]').getAttribute("open"), "");
    const cases = JSON.parse(await page.locator('[data-test="cases-json"]').inputValue());
    assert.equal(cases.length, 1);
    assert.equal(cases[0].call.request.reason, "rebalance");
    assert.equal(cases[0].call.incus_version, "7.0");
    assert.deepEqual(cases[0].expect, { placed: true });
    await page.locator('[data-test="cases-run"]').click();
    const caseResult = page.locator('[data-test="case-result"]');
    await caseResult.waitFor({ timeout: 30_000 });
    assert.equal(await caseResult.count(), 1);
    assert.equal(await caseResult.getAttribute("data-passed"), "false");
    assert.match(await caseResult.textContent(), new RegExp(`^FAIL ${cases[0].name}: .*rebalance`));
    assert.match(await page.locator('[data-test="cases-summary"]').textContent(), /^0 passed, 1 failed/);

    // The fix, typed: a line after the evacuation's entry, indented by the editor.
    const runsBefore = Number(await page.locator('[data-test="sandbox"]').getAttribute("data-runs"));
    await page.locator(".cm-line", { hasText: "\"evacuation\": \"evacuated\"," }).click();
    await page.keyboard.press("End");
    await page.keyboard.press("Enter");
    await page.keyboard.type("\"rebalance\": \"rebalanced\",");
    assert.equal(await editorText(page), FIXED.replace(/\n$/, "\n"));
    // The sandbox runs the call again with the edit: it places now.
    await page.waitForFunction((count) => Number(document.querySelector('[data-test="sandbox"]').dataset.runs) > count,
      runsBefore, { timeout: 30_000 });
    await call.locator('[data-test="logs"]', { hasText: "rebalanced to hv-" }).waitFor({ timeout: 30_000 });
    assert.equal(await call.locator('[data-test="diagnostic"]').count(), 0);

    // The golden case passes.
    await page.locator('[data-test="cases-run"]').click();
    await page.locator('[data-test="case-result"][data-passed="true"]').waitFor({ timeout: 30_000 });
    assert.match(await page.locator('[data-test="case-result"]').textContent(), new RegExp(`^pass ${cases[0].name}$`));
    assert.match(await page.locator('[data-test="cases-summary"]').textContent(), /^1 passed, 0 failed/);

    // Saved; and the matrix on the same versions has no red cell left.
    await page.locator('[data-test="revision-message"]').fill("rebalance too");
    await page.locator('[data-test="save"]').click();
    await page.locator('[data-test="saved"]').waitFor();
    assert.match(await page.locator('[data-test="saved"]').textContent(), /Saved revision 2/);
    await page.locator('[data-test="tab-matrix"]').click();
    await page.waitForURL(/[?&]tab=matrix/);
    assert.equal(await versions.inputValue(), "6.0.4,6.6,6.7,7.0");
    await runMatrix(page, 2, "on Incus 6.0.4, 6.6, 6.7, 7.0: 0 failing");
    assert.equal(await page.locator('[data-test="matrix-cell"].fails').count(), 0);
    assert.equal(await page.locator('[data-test="matrix-cell"][data-version="7.0"][data-situation="rebalance"]').getAttribute("data-outcome"), "ok");
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
  }
});
