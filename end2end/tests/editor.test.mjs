// The scriptlet editor as a code editor for Python-like code: a whole scriptlet typed key by
// key (Enter, Backspace to dedent, never an indentation typed) comes out as typed and runs; a
// scriptlet indented by 2 spaces keeps its unit and folds by its blocks; Tab leaves the editor unless the user opts in
// to Tab indenting, and then Escape followed by Tab still leaves it.
import assert from "node:assert/strict";
import { before, test } from "node:test";

import { addUser, api, openBrowser, signIn, waitForServer, watchProblems } from "./support.mjs";

/** What is typed: each line's depth (in indentation units) and its text. */
const LINES = [
  [0, "def instance_placement(request, candidate_members):"],
  [1, "# The candidate with the fewest instances."],
  [1, "best = None"],
  [1, "fewest = 0"],
  [1, "for member in candidate_members:"],
  [2, "count = get_instances_count(location=member.server_name)"],
  [2, "if best == None or count < fewest:"],
  [3, "best = member.server_name"],
  [3, "fewest = count"],
  [1, "if best != None:"],
  [2, "set_target(best)"],
  [1, "else:"],
  [2, "log_info(\"no candidate\")"],
  [2, "pass"],
  [1, "log_info(\"typed key by key, placed on \", best)"],
];
const TYPED = LINES.map(([depth, text]) => "    ".repeat(depth) + text).join("\n");

/** Indented by 2 spaces: the editor keeps that unit. */
const TWO_SPACES = [
  "def instance_placement(request, candidate_members):",
  "  for member in candidate_members:",
  "    set_target(member.server_name)",
  "  return",
  "",
].join("\n");

let author;
let demoSnapshot;

before(async () => {
  await waitForServer();
  author = await addUser("kay", "author");
  const snapshots = await api("GET", "/api/v1/snapshots");
  demoSnapshot = snapshots.body.find((snapshot) => snapshot.source === "demo");
});

async function waitForWorkspace(page) {
  await page.locator('[data-test="workspace"][data-hydrated="true"]').waitFor({ timeout: 30_000 });
  await page.locator(".cm-editor .cm-content").waitFor();
}

async function editorText(page) {
  return (await page.locator(".cm-content .cm-line").allTextContents()).join("\n");
}

/** Whether the keyboard focus is in the editor's text. */
async function focusInEditor(page) {
  return page.evaluate(() => document.activeElement?.classList.contains("cm-content") ?? false);
}

test("a scriptlet typed key by key with Enter and Backspace keeps its indentation and runs", async () => {
  const browser = await openBrowser({ signedIn: false });
  try {
    const page = await browser.context.newPage();
    const problems = watchProblems(page);
    await signIn(page, author.username, author.password,
      `/scriptlets/new?snapshot=${demoSnapshot.id}&kind=create&project=default`);
    await waitForWorkspace(page);
    await page.locator(".cm-content").click();
    await page.keyboard.press("Control+A");
    await page.keyboard.press("Delete");
    assert.equal(await editorText(page), "");

    // Enter indents after a `:` and keeps the block's depth; only dedents are typed, one
    // Backspace per level.
    // Each line's end waits for completion to open as it does for a person (after 100 ms): a
    // whole word there (`None`, `count`, `server_name`) is followed by a new line, not by the
    // completion's option.
    let depth = 0;
    let enterOverCompletion = 0;
    for (const [index, [want, text]] of LINES.entries()) {
      for (; depth > want; depth--) await page.keyboard.press("Backspace");
      assert.equal(depth, want, `line ${index + 1} needs no more indentation than the editor gave`);
      await page.keyboard.type(text);
      if (index < LINES.length - 1) {
        await page.waitForTimeout(200);
        if (await page.locator(".cm-tooltip-autocomplete").count() > 0) enterOverCompletion++;
        await page.keyboard.press("Enter");
        if (text.endsWith(":")) depth++;
      }
    }
    assert.equal(await editorText(page), TYPED);
    assert.ok(enterOverCompletion >= 2, `Enter pressed over an open completion ${enterOverCompletion} times`);

    // It compiles and runs: the last line's log is in the sandbox's result, no diagnostics.
    const logs = page.locator('[data-test="timeline-upstream"] [data-test="logs"]', { hasText: "typed key by key, placed on hv-" });
    await logs.first().waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('[data-test="diagnostics"]').count(), 0);
    assert.equal(await editorText(page), TYPED);
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
  }
});

test("a scriptlet indented by 2 spaces keeps its unit; Tab indents only when the user opts in", async () => {
  const created = await api("POST", "/api/v1/scriptlets", { name: `two-${Date.now().toString(36)}`, source: TWO_SPACES });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const browser = await openBrowser({ signedIn: false });
  try {
    const page = await browser.context.newPage();
    await signIn(page, author.username, author.password, `/scriptlets/${created.body.id}?kind=create&project=default`);
    await waitForWorkspace(page);
    const content = page.locator(".cm-content");

    // Blocks fold from the gutter, by indentation: `def …:` and `for …:` open one each, and
    // folding the `for` hides its body until the fold is opened again.
    const folds = page.locator('.cm-foldGutter [title="Fold line"]');
    assert.equal(await folds.count(), 2);
    await folds.nth(1).click();
    await page.locator(".cm-foldPlaceholder").waitFor();
    assert.deepEqual((await editorText(page)).split("\n").slice(0, 3),
      ["def instance_placement(request, candidate_members):", "  for member in candidate_members:…", "  return"]);
    await page.locator(".cm-foldPlaceholder").click();
    await page.locator(".cm-foldPlaceholder").waitFor({ state: "detached" });
    assert.equal(await editorText(page), TWO_SPACES.replace(/\n$/, "\n"));

    // Enter after `for …:` indents by the scriptlet's 2 spaces past the line; Backspace takes
    // back one unit.
    await content.click();
    await page.keyboard.press("Control+Home");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("End");
    await page.keyboard.press("Enter");
    await page.keyboard.type("x = 1");
    let lines = (await editorText(page)).split("\n");
    assert.equal(lines[2], "    x = 1");
    await page.keyboard.press("Home");
    await page.keyboard.press("Backspace");
    lines = (await editorText(page)).split("\n");
    assert.equal(lines[2], "  x = 1");
    await page.keyboard.press("Control+Z");
    await page.keyboard.press("Control+Z");
    await page.waitForFunction((text) => [...document.querySelectorAll(".cm-content .cm-line")]
      .map((line) => line.textContent).join("\n") === text, TWO_SPACES);

    // Tab leaves the editor by default.
    await content.click();
    await page.keyboard.press("Tab");
    assert.equal(await focusInEditor(page), false, "Tab moves the focus on");

    // Opted in: Tab and Shift-Tab indent the selected lines by one unit.
    const optIn = page.locator('[data-test="tab-indents"]');
    assert.equal(await optIn.isChecked(), false);
    await optIn.check();
    await content.click();
    await page.keyboard.press("Control+Home");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("Shift+ArrowDown");
    await page.keyboard.press("Shift+End");
    await page.keyboard.press("Tab");
    assert.equal(await focusInEditor(page), true, "Tab stays in the editor");
    lines = (await editorText(page)).split("\n");
    assert.deepEqual(lines.slice(1, 3), ["    for member in candidate_members:", "      set_target(member.server_name)"]);
    await page.keyboard.press("Shift+Tab");
    assert.equal(await editorText(page), TWO_SPACES.replace(/\n$/, "\n"));
    // Escape then Tab still leaves.
    await page.keyboard.press("Escape");
    await page.keyboard.press("Tab");
    assert.equal(await focusInEditor(page), false, "Escape then Tab leaves the editor");
    // The choice is kept in this browser.
    await page.reload();
    await waitForWorkspace(page);
    assert.equal(await page.locator('[data-test="tab-indents"]').isChecked(), true);
  } finally {
    await browser.close();
  }
});
