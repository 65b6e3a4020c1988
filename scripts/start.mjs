// `npm start`: the desktop app where the Electron binary is installed (the renderer and main are
// built first), and otherwise this machine's node with the web UI (`hearth node --web`), which
// prints the address to open. Extra arguments go to Electron, or to `hearth node --web`.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { findElectronBinary } from "../main/electron-binary.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const extra = process.argv.slice(2);

/**
 * Runs a command with this terminal, passes on SIGINT/SIGTERM/SIGHUP, and ends this process with
 * its exit code. A Ctrl-C typed in a terminal already reaches the child (it is in the terminal's
 * process group); passing it on too would be a second Ctrl-C, which the node reads as "quit at
 * once, skip the clean stop". So SIGINT is passed on only when there is no terminal, and a signal
 * that arrives twice within 200 ms (npm passes on what the terminal sent us as well) goes once.
 */
function runAttached(command, args, env = process.env) {
    const child = spawn(command, args, { cwd: root, stdio: "inherit", env });
    const last = new Map();
    const forward = (signal) => {
        if (signal === "SIGINT" && process.stdin.isTTY === true) return;
        const now = Date.now();
        if (now - (last.get(signal) ?? -Infinity) < 200) return;
        last.set(signal, now);
        if (child.exitCode == null && child.signalCode == null) child.kill(signal);
    };
    const signals = process.platform === "win32" ? ["SIGINT", "SIGTERM"] : ["SIGINT", "SIGTERM", "SIGHUP"];
    for (const signal of signals) process.on(signal, () => forward(signal));
    child.on("error", (e) => {
        console.error(`hearth: could not start ${command}: ${e.message}`);
        process.exit(1);
    });
    child.on("exit", (code, signal) => {
        if (signal != null) {
            // Die of the same signal, so that whoever started npm sees it.
            for (const s of signals) process.removeAllListeners(s);
            process.kill(process.pid, signal);
            return;
        }
        process.exit(code ?? 1);
    });
}

const electron = findElectronBinary();
if (!electron.found) {
    console.log("hearth: the Electron binary is not installed here (no download possible); starting this machine's node with the web UI instead");
    runAttached(process.execPath, [path.join(root, "bin", "hearth.mjs"), "node", "--web", ...extra]);
} else {
    let buildRenderer;
    try {
        ({ buildRenderer } = await import("./build-renderer.mjs"));
        if (typeof buildRenderer !== "function") throw new Error("it exports no buildRenderer()");
    } catch (e) {
        console.error(`hearth: cannot build the renderer: scripts/build-renderer.mjs did not load (${e?.message ?? e})`);
        process.exit(1);
    }
    try {
        await buildRenderer();
        const { buildMain } = await import("./build-main.mjs");
        await buildMain();
    } catch (e) {
        console.error(`hearth: the build failed: ${e?.message ?? e}`);
        process.exit(1);
    }
    const env = { ...process.env };
    // Set, it makes Electron a plain Node.js.
    delete env.ELECTRON_RUN_AS_NODE;
    runAttached(electron.path, [".", ...extra], env);
}
