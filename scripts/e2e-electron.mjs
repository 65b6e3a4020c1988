// `npm run e2e:electron`: the e2e specs (e2e/*.spec.ts, the same as the web UI's) against the
// desktop app. Needs the Electron binary; where it is missing this says so and fails (it never
// passes without having run). Builds the renderer and main, then runs Playwright with
// HEARTH_E2E_TARGET=electron (the specs launch the app with main/e2e-launch.ts). Extra
// arguments go to `playwright test`.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { findElectronBinary } from "../main/electron-binary.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const electron = findElectronBinary();
if (!electron.found) {
    console.log(`hearth: cannot run the Electron e2e tests: the Electron binary is not installed here: ${electron.reason}`);
    process.exit(1);
}

try {
    const { buildRenderer } = await import("./build-renderer.mjs");
    if (typeof buildRenderer !== "function") throw new Error("scripts/build-renderer.mjs exports no buildRenderer()");
    await buildRenderer();
    const { buildMain } = await import("./build-main.mjs");
    await buildMain();
} catch (e) {
    console.error(`hearth: the build failed: ${e?.message ?? e}`);
    process.exit(1);
}

const cli = createRequire(import.meta.url).resolve("@playwright/test/cli");
const env = { ...process.env, HEARTH_E2E_TARGET: "electron" };
delete env.ELECTRON_RUN_AS_NODE;
const child = spawn(process.execPath, [cli, "test", "--config", path.join("e2e", "playwright.config.ts"), ...process.argv.slice(2)], { cwd: root, stdio: "inherit", env });
for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
        // A Ctrl-C in a terminal reaches Playwright already.
        if (signal === "SIGINT" && process.stdin.isTTY === true) return;
        if (child.exitCode == null) child.kill(signal);
    });
}
child.on("error", (e) => {
    console.error(`hearth: could not start Playwright: ${e.message}`);
    process.exit(1);
});
child.on("exit", (code, signal) => process.exit(code ?? (signal != null ? 1 : 0)));
