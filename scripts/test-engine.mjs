// `npm run test:engine [-- FILE...]`: the engine's tests (test/*.test.ts) with Node's test runner,
// one file at a time, every test under a time limit. The file list is made here, not by a shell
// glob, so the same command runs on Windows.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const named = process.argv.slice(2);
const files = named.length > 0 ? named : fs.readdirSync(path.join(root, "test")).filter((f) => f.endsWith(".test.ts")).sort().map((f) => path.join("test", f));
const child = spawn(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=1", "--test-timeout=900000", ...files], { cwd: root, stdio: "inherit" });
child.on("exit", (code, signal) => { process.exitCode = code ?? (signal != null ? 1 : 0); });
