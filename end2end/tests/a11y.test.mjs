// Accessibility of every page: axe-core's WCAG 2 / 2.1 A and AA rules find no serious or
// critical violation, in the light and the dark theme, each page in a state with content (the
// demo snapshot, a scriptlet with two revisions in the sandbox on a move and in its matrix, a
// previewed plan, an Impact result); and Tab, from the top of each page, stops only where the
// focus is visible. One visit per page, both checks on it, to keep the suite's time small.
import assert from "node:assert/strict";
import { before, test } from "node:test";

import { ADMIN_PASSWORD, api, AXE_SCRIPT, axeViolations, BASE_URL, openBrowser, signIn, waitForServer, watchProblems } from "./support.mjs";

const BEFORE = `def instance_placement(request, candidate_members):
    others = [m.server_name for m in candidate_members if "nvme" not in m.groups]
    if others:
        set_target(others[0])
`;
const AFTER = `def instance_placement(request, candidate_members):
    nvme = [m.server_name for m in candidate_members if "nvme" in m.groups]
    if request.config.get("user.app", "") == "api" and nvme:
        set_target(nvme[0])
    else:
        set_target(candidate_members[0].server_name)
`;

/** Each page to check: its address, and what shows that it is ready (hydrated, with content). */
let pages;

before(async () => {
  await waitForServer();
  const snapshots = await api("GET", "/api/v1/snapshots");
  const demo = snapshots.body.find((snapshot) => snapshot.source === "demo");
  const created = await api("POST", "/api/v1/scriptlets", { name: `a11y-${Date.now().toString(36)}`, source: BEFORE });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const scriptlet = created.body.id;
  const revised = await api("POST", `/api/v1/scriptlets/${scriptlet}/revisions`, { source: AFTER, message: "api on nvme" });
  assert.equal(revised.status, 201, JSON.stringify(revised.body));

  // A plan on the demo, previewed: its moves, the preview's chart and table.
  const exported = await api("GET", `/api/v1/snapshots/${demo.id}`);
  const moves = exported.body.instances
    .filter((instance) => instance.project === "legacy" && instance.status === "Stopped")
    .slice(0, 2)
    .map((instance) => ({ project: "legacy", name: instance.name, target_project: "default" }));
  const plan = await api("POST", "/api/v1/plans", { name: `a11y ${Date.now().toString(36)}`, snapshot_id: demo.id, moves });
  assert.equal(plan.status, 201, JSON.stringify(plan.body));
  const previewed = await api("POST", `/api/v1/plans/${plan.body.id}/preview`);
  assert.equal(previewed.status, 200, JSON.stringify(previewed.body));

  const move = "kind=move&instance=default%2Fproxy-01&target_project=web&version=6.6.0";
  pages = [
    ["Cluster", "/", "cluster-page", '[data-test="member"]'],
    ["Scriptlets", "/scriptlets", "scriptlets-page", '[data-test="scriptlet-link"]'],
    ["editor with the sandbox", `/scriptlets/${scriptlet}?snapshot=${demo.id}&${move}`, "workspace",
      '[data-test="timeline-corrected"] [data-test="call"]'],
    ["the sandbox's matrix", `/scriptlets/${scriptlet}?snapshot=${demo.id}&tab=matrix`, "workspace", '[data-test="matrix-table"]'],
    ["revisions compared", `/scriptlets/${scriptlet}/diff?from=1&to=2`, "diff-page", '[data-test="diff-added"]'],
    ["Snapshots", "/snapshots", "snapshots-page", '[data-test="snapshot-row"]'],
    ["Plans", "/plans", "plans-page", '[data-test="plan-list"]'],
    // One project's instances: all 320 of the demo take axe a minute on a busy machine.
    ["a new plan", `/plans/new?snapshot=${demo.id}`, "plan-builder", '[data-test="builder-instance"]',
      (page) => page.locator('[data-test="filter-project"]').selectOption("legacy")],
    ["plan detail", `/plans/${plan.body.id}`, "plan-page", '[data-test="preview-stamp"]'],
    ["Impact", `/impact?snapshot=${demo.id}&scriptlet=${scriptlet}&from=1&to=2`, "impact-page", '[data-test="impact-summary"]'],
    ["Users", "/settings/users", "users-page", '[data-test="user-row"]'],
    ["API tokens", "/settings/tokens", "tokens-page", "form"],
    ["Password", "/settings/password", "password-page", "form"],
    ["Connections", "/settings/connections", "connections-page", "form"],
    ["Audit log", "/audit", "audit-page", '[data-test="audit-table"]'],
  ];
});

/** Opens `path` and waits until it is hydrated and shows `content`. */
async function open(page, path, root, content) {
  await page.goto(`${BASE_URL}${path}`);
  await page.locator(`[data-test="${root}"][data-hydrated="true"]`).waitFor({ timeout: 30_000 });
  await page.locator(content).first().waitFor({ timeout: 60_000 });
  // CodeMirror is imported once an editor mounts, after hydration: check the editor as used.
  if (await page.locator('[data-test="editor"]').count()) {
    await page.locator('[data-test="editor"] .cm-editor').waitFor({ timeout: 30_000 });
  }
}

/** Checks the page in both themes; returns what was found, labelled. */
async function checkThemes(page, name) {
  const found = [];
  for (const colorScheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme });
    for (const violation of await axeViolations(page)) found.push(`${name} [${colorScheme}] ${violation}`);
  }
  await page.emulateMedia({ colorScheme: "light" });
  return found;
}

/** Tabs through the page from its top (up to `limit` stops) and lists the focused elements that show no
 *  focus indicator (an outline, or the editor's outline around its text). */
async function focusWithoutIndicator(page, limit) {
  await page.locator("body").click({ position: { x: 1, y: 1 } });
  const missing = [];
  for (let stop = 0; stop < limit; stop++) {
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(async () => {
      // The editor marks itself focused on its next update.
      await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
      const element = document.activeElement;
      if (!element || element === document.body) return null;
      // Round the page once.
      window.focusSeen ??= new WeakSet();
      if (window.focusSeen.has(element)) return null;
      window.focusSeen.add(element);
      // The editor draws its focus around the whole editor, not around its text.
      const shown = element.classList.contains("cm-content") ? element.closest(".cm-editor") : element;
      const style = getComputedStyle(shown);
      const test = element.dataset.test ? `[data-test=${element.dataset.test}]` : "";
      return {
        outlined: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 1,
        describe: `${element.tagName.toLowerCase()}${test} "${(element.textContent ?? "").trim().slice(0, 30)}"`,
      };
    });
    if (!focused) break;
    if (!focused.outlined) missing.push(focused.describe);
  }
  return missing;
}

test("every page: no serious or critical axe-core violation in light and dark, a visible focus on every keyboard stop", async () => {
  const browser = await openBrowser({ signedIn: false });
  try {
    const page = await browser.context.newPage();
    const problems = watchProblems(page);
    // axe-core is injected before the page's scripts (the page's CSP refuses inline scripts).
    await page.addInitScript({ path: AXE_SCRIPT });
    const found = [];
    const unfocused = [];
    const check = async (name) => {
      found.push(...await checkThemes(page, name));
      for (const element of await focusWithoutIndicator(page, 60)) unfocused.push(`${name}: ${element}`);
    };
    await open(page, "/login", "login-page", '[data-test="login-submit"]');
    await check("Sign in");
    await signIn(page, "admin", ADMIN_PASSWORD);
    for (const [name, path, root, content, narrow] of pages) {
      await open(page, path, root, content);
      if (narrow) await narrow(page);
      await check(name);
    }
    assert.deepEqual({ violations: found, withoutVisibleFocus: unfocused }, { violations: [], withoutVisibleFocus: [] },
      `\n${found.join("\n")}\n${unfocused.join("\n")}`);
    assert.deepEqual(problems, [], "the pages hydrate without errors");
  } finally {
    await browser.close();
  }
});
