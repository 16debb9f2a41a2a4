// Drives headless Chromium for tests/e2e/dashboard.rs: Debian's `chromium` (or CHROMIUM), started
// by playwright-core with `executablePath`, so nothing downloads a browser.
//
//   node tests/browser/driver.mjs BASE SCREENSHOT_DIR
//
// Reads one JSON command per line on stdin and answers each with one JSON line on stdout,
// `{"ok": true, …}` or `{"ok": false, "error": "…"}`. Commands (selectors are CSS):
//   {"do": "goto", "path"}                    → {"url"} once the page has loaded
//   {"do": "type", "text"} / {"do": "press", "key"}   the keyboard, into whatever has focus
//   {"do": "click", "selector"}
//   {"do": "wait", "selector", "text"?, "count"?, "timeout_ms"?}
//        until the selector matches (at least `count` elements; the first containing `text`)
//        → {"text": innerText of the first match, "count"}
//   {"do": "text", "selector"}                → {"text"} ("" when nothing matches)
//   {"do": "focused"}                         → {"id": id of document.activeElement}
//   {"do": "mark"} / {"do": "marked"}         sets / reads a value in the page's window: a
//        reload or a navigation to another document loses it → {"marked": bool}
//   {"do": "storage"}                         → {"session": {...}, "local": {...}, "cookies": n}
//   {"do": "viewport", "width", "height"}
//   {"do": "widths"}                          → {"page", "window"}: the document's scroll width
//        and its visible width (wider tables scroll inside their own box, never the page)
//   {"do": "screenshot", "name"}              → SCREENSHOT_DIR/NAME.png, the full page
//   {"do": "problems"}                        → {"problems": [...]}: console errors and warnings,
//        uncaught page errors, failed requests and HTTP errors since the last "problems"
import { existsSync, mkdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const [base, screenshots] = process.argv.slice(2);
const DEFAULT_TIMEOUT_MS = 30_000;

// The flags keep Chromium off the network beyond loopback (its background services would try
// Google's hosts) and let it run as root in a container.
// `CHROMIUM`, else `chromium` where the PATH finds it, as scripts/bootstrap.sh looks for it.
const onPath = (name) =>
  (process.env.PATH ?? "")
    .split(delimiter)
    .map((dir) => join(dir, name))
    .find((file) => existsSync(file));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? onPath("chromium") ?? "/usr/bin/chromium",
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
const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(DEFAULT_TIMEOUT_MS);

const problems = [];
page.on("console", (message) => {
  if (message.type() === "error" || message.type() === "warning") {
    problems.push(`console ${message.type()}: ${message.text()}`);
  }
});
page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
page.on("requestfailed", (request) => {
  // A socket closed by the test's navigation is not the page's failure.
  if (request.failure()?.errorText !== "net::ERR_ABORTED") {
    problems.push(`request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}`);
  }
});
page.on("response", (response) => {
  if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.request().method()} ${response.url()}`);
});

async function run(command) {
  switch (command.do) {
    case "goto":
      await page.goto(new URL(command.path, base).href, { waitUntil: "load" });
      return { url: page.url() };
    case "type":
      await page.keyboard.type(command.text);
      return {};
    case "press":
      await page.keyboard.press(command.key);
      return {};
    case "click":
      await page.click(command.selector);
      return {};
    case "wait": {
      const count = command.count ?? 1;
      const handle = await page.waitForFunction(
        ({ selector, text, count }) => {
          const found = [...document.querySelectorAll(selector)];
          const match = found.find((element) => text == null || element.innerText.includes(text));
          return found.length >= count && match ? { text: match.innerText, count: found.length } : null;
        },
        { selector: command.selector, text: command.text, count },
        { timeout: command.timeout_ms ?? DEFAULT_TIMEOUT_MS, polling: 100 },
      );
      return await handle.jsonValue();
    }
    case "text":
      return { text: await page.evaluate((selector) => document.querySelector(selector)?.innerText ?? "", command.selector) };
    case "focused":
      return { id: await page.evaluate(() => document.activeElement?.id ?? "") };
    case "mark":
      await page.evaluate(() => (window.switchboardTestMark = true));
      return {};
    case "marked":
      return { marked: await page.evaluate(() => window.switchboardTestMark === true) };
    case "storage": {
      const [session, local] = await page.evaluate(() => [{ ...sessionStorage }, { ...localStorage }]);
      return { session, local, cookies: (await context.cookies()).length };
    }
    case "widths":
      return await page.evaluate(() => ({
        page: document.documentElement.scrollWidth,
        window: document.documentElement.clientWidth,
      }));
    case "viewport":
      await page.setViewportSize({ width: command.width, height: command.height });
      return {};
    case "screenshot": {
      mkdirSync(screenshots, { recursive: true });
      const path = join(screenshots, `${command.name}.png`);
      await page.screenshot({ path, fullPage: true });
      return { path };
    }
    case "problems":
      return { problems: problems.splice(0) };
    default:
      throw new Error(`unknown command ${JSON.stringify(command.do)}`);
  }
}

const answer = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  try {
    answer({ ok: true, ...(await run(JSON.parse(line))) });
  } catch (error) {
    answer({ ok: false, error: String(error?.message ?? error) });
  }
}
await browser.close();
