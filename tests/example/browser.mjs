// Drives headless Chromium against a running chat example (see
// test_browser.py): page A subscribes in GraphiQL, page B (another browser
// context: another session) sends a message, page A shows it.
//
// Usage: node browser.mjs <base URL> <screenshot path>
// Prints one JSON object: what page A shows, and what went wrong on the way.

import { chromium } from "playwright-core";

const [baseUrl, screenshotPath] = process.argv.slice(2);
const origin = new URL(baseUrl).origin;
const ROOM = "browser-test";
const TEXT = "Hello from page B";
const SUBSCRIBE = `subscription watch { onNewChatMessage(chatroom: "${ROOM}") { chatroom text sender } }`;
const SEND = `mutation send { sendChatMessage(chatroom: "${ROOM}", text: "${TEXT}") { ok } }`;
const STEP = 15_000;

const report = {
  external: [], errors: [], attempts: 0, pageA: "", pageB: "", tabs: [], firstTab: "",
};

function watch(page, name) {
  page.on("pageerror", (error) => report.errors.push(`${name}: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") report.errors.push(`${name} console: ${message.text()}`);
  });
}

async function open(browser, name, query = null) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // Everything must come from the example server: no CDN, nothing else.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin) return route.continue();
    report.external.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  watch(page, name);
  await page.goto(query === null ? `${baseUrl}/` : `${baseUrl}/?query=${encodeURIComponent(query)}`);
  // The page's WebSocket is up once the logo's status says so.
  await page.locator('.gqlws-status[data-state="connected"]').waitFor({ timeout: STEP });
  await page.locator(".graphiql-execute-button").waitFor({ timeout: STEP });
  return page;
}

// CodeMirror's text, with the no-break and zero-width spaces it renders
// turned back into what they stand for.
const clean = (text) => text.replace(/\u00a0/g, " ").replace(/\u200b/g, "");
const result = async (page) => clean(await page.locator(".result-window").innerText());

async function until(predicate, timeout) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const pageA = await open(browser, "A", SUBSCRIBE);
  await pageA.locator(".graphiql-execute-button").click();
  const pageB = await open(browser, "B", SEND);
  // Nothing tells page A's client when the server has joined the room, so
  // page B sends until page A shows the message (once, nearly always).
  for (let attempt = 1; attempt <= 5; attempt++) {
    report.attempts = attempt;
    await pageB.locator(".graphiql-execute-button").click();
    await until(async () => (await result(pageB)).includes('"ok": true'), STEP);
    if (await until(async () => (await result(pageA)).includes(TEXT), 3_000)) break;
  }
  report.pageA = await result(pageA);
  report.pageB = await result(pageB);
  await pageA.screenshot({ path: screenshotPath });
  // A first visit: the tabs the page opens with.
  const fresh = await open(browser, "C");
  report.tabs = await fresh.locator(".graphiql-tab").allInnerTexts();
  report.firstTab = clean(await fresh.locator(".graphiql-query-editor").innerText());
} catch (error) {
  report.errors.push(`driver: ${error.stack || error}`);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report) + "\n");
