// Signing in and out in the browser, with and without JavaScript; the user menu; the
// settings pages an admin uses. Takes the README's screenshots of the login page.
import assert from "node:assert/strict";
import { before, test } from "node:test";

import {
  addUser, ADMIN_PASSWORD, BASE_URL, openBrowser, recordSecret, screenshot, signIn, waitForHydration,
  waitForServer, watchProblems,
} from "./support.mjs";

before(waitForServer);

test("sign in on /login, see the cluster, sign out and land on /login again", async () => {
  const browser = await openBrowser({ signedIn: false });
  try {
    const page = await browser.context.newPage();
    const problems = watchProblems(page);
    await page.goto(`${BASE_URL}/?group=edge`);
    // Sent to sign in, and back where we were going afterwards.
    await page.waitForURL(/\/login\?next=/);
    await page.locator('[data-test="login-page"][data-hydrated="true"]').waitFor();
    await screenshot(page, "login");
    await signIn(page, "admin", ADMIN_PASSWORD, "/?group=edge");
    assert.match(page.url(), /\/\?group=edge$/);
    await waitForHydration(page);
    assert.equal(await page.locator('[data-test="user-name"]').innerText(), "admin");
    assert.equal(await page.locator('[data-test="user-role"]').innerText(), "admin");
    await screenshot(page, "cluster");

    await page.locator('[data-test="logout"]').click();
    await page.waitForURL(/\/login$/);
    // The session is over on the server: the cluster sends us back to sign in.
    await page.goto(`${BASE_URL}/`);
    await page.waitForURL(/\/login\?next=%2F$/);
    assert.deepEqual(problems.filter((problem) => !problem.startsWith("HTTP 303")), []);
  } finally {
    await browser.close();
  }
});

test("a wrong password is answered on the login page, also without JavaScript", async () => {
  const browser = await openBrowser({ signedIn: false, javaScriptEnabled: false });
  try {
    const page = await browser.context.newPage();
    await page.goto(`${BASE_URL}/login`);
    await page.locator('[data-test="login-username"]').fill("admin");
    await page.locator('[data-test="login-password"]').fill("not the password");
    await page.locator('[data-test="login-submit"]').click();
    await page.waitForURL(/\/login\?error=/);
    assert.equal(await page.locator('[data-test="login-error"]').innerText(), "wrong username or password");
    // The right one signs in without any script, and the sign-out form works too.
    await signIn(page, "admin", ADMIN_PASSWORD);
    await page.locator('[data-test="member"]').first().waitFor();
    await page.locator('[data-test="logout"]').click();
    await page.waitForURL(/\/login$/);
  } finally {
    await browser.close();
  }
});

test("a form refused without JavaScript comes back to its page with the reason", async () => {
  const user = await addUser("nojs", "viewer");
  const browser = await openBrowser({ signedIn: false, javaScriptEnabled: false });
  try {
    const page = await browser.context.newPage();
    await signIn(page, user.username, user.password, "/settings/password");
    await page.locator('[data-test="current-password"]').fill("not my password");
    await page.locator('[data-test="new-password"]').fill("a new password 1");
    await page.locator('[data-test="confirm-password"]').fill("a new password 1");
    await Promise.all([page.waitForNavigation(), page.locator('[data-test="change-password"]').click()]);
    assert.equal(new URL(page.url()).pathname, "/settings/password");
    assert.match(await page.locator('[data-test="outcome-error"]').innerText(), /password/i);
    // Nothing changed: the password still signs in.
    const again = await openBrowser({ signedIn: false, javaScriptEnabled: false });
    try {
      const check = await again.context.newPage();
      await signIn(check, user.username, user.password, "/settings/password");
      await check.locator('[data-test="password-page"]').waitFor();
    } finally {
      await again.close();
    }
  } finally {
    await browser.close();
  }
});

test("an admin adds a user, who signs in with their role and sees no admin pages", async () => {
  const admin = await openBrowser();
  const password = `pw-${Date.now()}-e2e`;
  recordSecret(password);
  try {
    const page = await admin.context.newPage();
    const problems = watchProblems(page);
    await page.goto(`${BASE_URL}/settings/users`);
    await page.locator('[data-test="users-page"][data-hydrated="true"]').waitFor();
    await page.locator('[data-test="new-username"]').fill("reviewer1");
    await page.locator('[data-test="users-page"] form').first().locator('[data-test="role-select"]').selectOption("reviewer");
    await page.locator('[data-test="new-user-password"]').fill(password);
    await page.locator('[data-test="add-user"]').click();
    await page.locator('[data-test="user-row"][data-user="reviewer1"]').waitFor();
    assert.equal(await page.locator('[data-test="user-row"][data-user="reviewer1"]').getAttribute("data-role"), "reviewer");
    await screenshot(page, "users");

    // An API token, shown once.
    await page.goto(`${BASE_URL}/settings/tokens`);
    await page.locator('[data-test="tokens-page"][data-hydrated="true"]').waitFor();
    await page.locator('[data-test="token-name"]').fill("ci");
    await page.locator('[data-test="create-token"]').click();
    const token = await page.locator('[data-test="new-token"]').innerText();
    recordSecret(token);
    assert.match(token, /^berth_/);
    await page.locator('[data-test="token-row"][data-token="ci"]').waitFor();
    const me = await fetch(`${BASE_URL}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual(await me.json(), { username: "admin", role: "admin" });
    await page.locator('[data-test="token-row"][data-token="ci"] [data-test="revoke-token"]').click();
    await page.locator('[data-test="no-tokens"]').waitFor();
    const revoked = await fetch(`${BASE_URL}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(revoked.status, 401);
    assert.deepEqual(problems, []);
  } finally {
    await admin.close();
  }

  const reviewer = await openBrowser({ signedIn: false });
  try {
    const page = await reviewer.context.newPage();
    await signIn(page, "reviewer1", password);
    await waitForHydration(page);
    assert.equal(await page.locator('[data-test="user-role"]').innerText(), "reviewer");
    assert.equal(await page.locator('[data-test="nav-users"]').count(), 0);
    assert.equal(await page.locator('[data-test="nav-audit"]').count(), 0);
    const response = await page.goto(`${BASE_URL}/settings/users`);
    assert.equal(response.status(), 403);
  } finally {
    await reviewer.close();
  }
});

test("the audit log shows the sign-ins, filtered by kind", async () => {
  const browser = await openBrowser();
  try {
    const page = await browser.context.newPage();
    await page.goto(`${BASE_URL}/audit`);
    await page.locator('[data-test="audit-page"][data-hydrated="true"]').waitFor();
    await page.locator('[data-test="filter-kind"]').selectOption("login.failed");
    await page.locator('[data-test="apply-filters"]').click();
    await page.waitForURL(/kind=login.failed/);
    const kinds = await page.locator('[data-test="audit-row"]').evaluateAll((rows) => rows.map((row) => row.dataset.kind));
    assert.ok(kinds.length >= 1, "the wrong password above is in the log");
    assert.ok(kinds.every((kind) => kind === "login.failed"), kinds.join());
    await screenshot(page, "audit");
  } finally {
    await browser.close();
  }
});

test("a session that ends while a page is open offers to sign in again, and comes back", async () => {
  const browser = await openBrowser();
  try {
    const page = await browser.context.newPage();
    await page.goto(`${BASE_URL}/`);
    await waitForHydration(page);
    // The session ends on the server (as after an admin's password reset or the idle timeout).
    const [cookie] = (await browser.context.cookies()).filter((c) => c.name === "berth_session");
    const csrf = await page.locator('meta[name="csrf-token"]').getAttribute("content");
    recordSecret(csrf);
    const ended = await fetch(`${BASE_URL}/api/v1/session`, {
      method: "DELETE",
      headers: { cookie: `berth_session=${cookie.value}`, "x-csrf-token": csrf, origin: BASE_URL },
    });
    assert.equal(ended.status, 204);
    // A client-side navigation that needs data now meets the ended session.
    await page.locator('[data-test="snapshots"] a[href="/?snapshot=1"]').click();
    const again = page.locator('[data-test="sign-in-again"]');
    await again.waitFor();
    assert.equal(await again.getAttribute("href"), "/login?next=%2F%3Fsnapshot%3D1");
    await again.click();
    await page.waitForURL(/\/login\?next=/);
    await page.locator('[data-test="login-username"]').fill("admin");
    await page.locator('[data-test="login-password"]').fill(ADMIN_PASSWORD);
    await page.locator('[data-test="login-submit"]').click();
    await page.waitForURL(/\/\?snapshot=1$/);
    await page.locator('[data-test="member"]').first().waitFor();
  } finally {
    await browser.close();
  }
});
