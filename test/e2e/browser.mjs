// The console's browser tests share this: Debian's chromium through playwright-core, screenshots, forged forms.
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { ROOT } from "./harness.mjs";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const ARTIFACTS = path.join(ROOT, "test-artifacts", "console");
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Launch chromium (playwright gives it a fresh temporary profile, removed on close). A missing browser fails, never skips. */
export async function launchChromium() {
  // CI installs Debian's chromium (.ci/run).
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (.ci/run does this) or set CHROMIUM_PATH`);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

/** Log in through the console's own form at `base` and wait until the overview is shown. */
export async function logInThroughForm(page, base, username, password) {
  await page.goto(`${base}/console/login`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(/\/console$/);
}

/** Save a full-page screenshot to test-artifacts/console/<name>.png. */
export const shot = (page, name) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

/** Submit a hand-made form from the page (what a forged or tampered POST looks like) and return the answer's status. */
export async function submitForm(page, action, fields) {
  const [res] = await Promise.all([
    page.waitForNavigation(),
    page.evaluate(
      ([a, f]) => {
        const form = document.createElement("form");
        form.method = "post";
        form.action = a;
        for (const [k, v] of Object.entries(f)) {
          const i = document.createElement("input");
          i.type = "hidden";
          i.name = k;
          i.value = v;
          form.append(i);
        }
        document.body.append(form);
        form.submit();
      },
      [action, fields],
    ),
  ]);
  return res.status();
}
