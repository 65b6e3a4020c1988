// Starts the desktop app under Playwright (for e2e specs run with HEARTH_E2E_TARGET=electron):
// `electron .` in the repository root, with its data in `dataDir` ($HEARTH_DATA_DIR: Electron's
// userData and the node's data, so one test's app cannot meet another's, nor the user's own
// Hearth, and the single-instance lock is per test). main/dist and renderer/dist must be built
// (scripts/e2e-electron.mjs builds both first).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { _electron, type ElectronApplication, type Page } from "@playwright/test";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface LaunchedApp {
    app: ElectronApplication;
    /** the app's window, its first page loaded */
    page: Page;
    /** quits the app (the node gets its clean shutdown) and waits for it to exit */
    close: () => Promise<void>;
}

export interface LaunchOptions {
    /** the folder for all of this app's data (made if missing) */
    dataDir: string;
    /** more environment for the app (HEARTH_NAME, HEARTH_PORT, …); the test's own environment is the base */
    env?: Record<string, string | undefined>;
    /** how long Electron may take to start and show its window. Defaults to 60 s */
    timeoutMs?: number;
}

export async function launchElectronApp(options: LaunchOptions): Promise<LaunchedApp> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, ...options.env })) if (v != null) env[k] = v;
    env.HEARTH_DATA_DIR = path.resolve(options.dataDir);
    delete env.ELECTRON_RUN_AS_NODE;
    const timeout = options.timeoutMs ?? 60_000;
    const app = await _electron.launch({ args: ["."], cwd: repoRoot, env, timeout });
    try {
        const page = await app.firstWindow({ timeout });
        await page.waitForLoadState("domcontentloaded", { timeout });
        let closed = false;
        return {
            app,
            page,
            close: async () => {
                if (closed) return;
                closed = true;
                await app.close();
            }
        };
    } catch (e) {
        await app.close().catch(() => {});
        throw e;
    }
}
