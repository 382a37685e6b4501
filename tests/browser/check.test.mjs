// The citizen's "check before you buy" page in a real browser, against a real demo node.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const bin = process.env.CEIR_BIN || new URL("../../target/debug/ceir", import.meta.url).pathname;
const chromePath = process.env.CHROMIUM || "/usr/bin/chromium";
const shots = process.env.CEIR_SCREENSHOTS || tmpdir();
let dir, server, base, browser;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "ceir-browser-"));
  execFileSync(bin, ["demo", "--no-serve", "--data", join(dir, "demo")], { stdio: "ignore" });
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

async function checkImei(page, imei) {
  await page.fill("#imei", imei);
  await page.click("#go");
  await page.waitForSelector("#result:not([hidden])");
  return page.locator("#result");
}

test("a stolen phone is shown as do-not-buy, with its reason and model", async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/`);
  await page.click("[data-lang=en]");
  const result = await checkImei(page, "35 202983 123456 5");
  await assert.doesNotReject(result.getByText("Do not buy this phone").waitFor());
  assert.match(await result.innerText(), /reported stolen/);
  assert.match(await result.innerText(), /Apple iPhone 15/);
  assert.equal(await result.getAttribute("class"), "blocked");
  await page.screenshot({ path: join(shots, "ceir-check-stolen.png") });
  await page.close();
});

test("a mistyped check digit names the expected digit", async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/check`);
  await page.click("[data-lang=en]");
  const result = await checkImei(page, "352029831234560");
  assert.match(await result.innerText(), /expected 5/);
  assert.equal(await result.getAttribute("class"), "error");
  await page.close();
});

test("a tracked phone is not revealed, and the page speaks Azerbaijani and Uzbek", async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/`);
  await page.click("[data-lang=az]");
  assert.equal(await page.textContent("h1"), "Telefonu almazdan əvvəl yoxlayın");
  const result = await checkImei(page, "350761758800422");
  await assert.doesNotReject(result.getByText("Bu telefon barədə heç bir bildiriş yoxdur").waitFor());
  assert.equal(await result.getAttribute("class"), "clear");
  await page.click("[data-lang=uz]");
  await assert.doesNotReject(result.getByText("Bu telefon boʻyicha hech qanday xabar yoʻq").waitFor());
  await page.screenshot({ path: join(shots, "ceir-check-tracked-uz.png") });
  await page.close();
});

test("the page loads nothing from outside and breaks no content-security rule", async () => {
  const page = await browser.newPage();
  const external = [];
  const violations = [];
  page.on("request", (r) => { if (!r.url().startsWith(base)) external.push(r.url()); });
  page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
  await page.goto(`${base}/`);
  await checkImei(page, "350854371002003");
  assert.deepEqual(external, []);
  assert.deepEqual(violations, []);
  await page.close();
});
