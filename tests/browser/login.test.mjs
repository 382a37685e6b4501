// Staff sign-in in a real browser, against a real demo node served over plain HTTP on loopback:
// the `__Host-` session cookie is Secure, which Chromium accepts on http://127.0.0.1.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const bin = process.env.CEIR_BIN || new URL("../../target/debug/ceir", import.meta.url).pathname;
const chromePath = process.env.CHROMIUM || "/usr/bin/chromium";
let dir, server, base, browser, password;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "ceir-login-"));
  execFileSync(bin, ["demo", "--no-serve", "--data", join(dir, "demo")], { stdio: "ignore" });
  password = readFileSync(join(dir, "demo", "demo-password"), "utf8").trim();
  server = spawn(bin, ["--data", join(dir, "demo"), "serve", "--listen", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "ignore"] });
  base = await new Promise((resolve, reject) => {
    server.stdout.on("data", (d) => {
      const m = /listening on (http:\/\/[0-9.:]+)/.exec(d.toString());
      if (m) resolve(m[1]);
    });
    server.on("exit", (code) => reject(new Error(`ceir exited with ${code}`)));
  });
  browser = await chromium.launch({
    executablePath: chromePath,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  server?.kill();
  rmSync(dir, { recursive: true, force: true });
});

async function signIn(page, pw) {
  await page.goto(`${base}/login`);
  await page.fill("#username", "admin");
  await page.fill("#password", pw);
  await page.click("#go");
  await page.waitForLoadState("load");
}

test("a wrong password is refused and the page says so", async () => {
  const page = await browser.newPage();
  await signIn(page, "not the password at all");
  assert.match(page.url(), /\/login\?failed$/);
  await assert.doesNotReject(page.locator("#failed").waitFor({ state: "visible" }));
  await page.close();
});

test("the demo admin signs in, and the session cookie works over http on loopback", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, password);
  assert.equal(page.url(), `${base}/`);
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "__Host-ceir_session");
  assert.ok(session, "the browser kept the session cookie");
  assert.equal(session.secure, true);
  assert.equal(session.httpOnly, true);
  const me = await page.evaluate(async () => (await fetch("/auth/me")).json());
  assert.equal(me.user, "admin");
  assert.equal(me.org, "regulator");
  // A change without the CSRF token is refused; with it, sign-out works.
  const refused = await page.evaluate(async () => (await fetch("/auth/logout", { method: "POST" })).status);
  assert.equal(refused, 403);
  const out = await page.evaluate(async (csrf) => (await fetch("/auth/logout", { method: "POST", headers: { "X-CSRF-Token": csrf } })).status, me.csrfToken);
  assert.equal(out, 204);
  const after = await page.evaluate(async () => (await fetch("/auth/me")).status);
  assert.equal(after, 401);
  await context.close();
});
