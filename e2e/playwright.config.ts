// End-to-end tests of the app's UI in a real browser: Debian's Chromium (CHROMIUM_PATH, or
// /usr/bin/chromium) driving the web UI of a real node, with two more node processes. With
// HEARTH_E2E_TARGET=electron (npm run e2e:electron) the same specs drive the Electron app.
import { defineConfig } from "@playwright/test";

export default defineConfig({
    testDir: ".",
    testMatch: /.*\.spec\.ts/,
    outputDir: "artifacts/results",
    timeout: 300_000,
    expect: { timeout: 30_000 },
    workers: 1,
    retries: 0,
    reporter: [["list"]],
    use: {
        viewport: { width: 1280, height: 800 },
        launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" },
        trace: "retain-on-failure",
        screenshot: "only-on-failure"
    }
});
