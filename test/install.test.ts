// `npm install --omit=dev` of this checkout's files in a fresh folder: no TypeScript loader, no
// compiler, no dev dependency; `hearth` runs the compiled dist/hearth.mjs built at install, and a
// generation through two node processes started from that install gives node-llama-cpp's tokens.
// (npm reads packages from its cache, or the registry, as on a fresh machine.)
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "../app/model/tokenizer.ts";
import { startNode, stopNode } from "./helpers/nodes.ts";
import { referenceGreedy } from "./helpers/reference.ts";
import { enroll } from "./helpers/test-cluster.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-install-"));
after(() => fs.rmSync(work, { recursive: true, force: true }));

test("npm install --omit=dev, then hearth from the compiled output (no tsx) generates through two nodes exactly", { timeout: 900_000 }, async () => {
    const copy = path.join(work, "hearth");
    // The checkout's files as git sees them (tracked, and new ones not ignored): no node_modules, no build output.
    const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8" }).split("\0").filter((f) => f !== "");
    for (const f of files) {
        if (!fs.existsSync(path.join(root, f))) continue; // deleted in the working tree
        fs.mkdirSync(path.dirname(path.join(copy, f)), { recursive: true });
        fs.copyFileSync(path.join(root, f), path.join(copy, f));
    }
    assert.ok(!fs.existsSync(path.join(copy, "dist")) && !fs.existsSync(path.join(copy, "native", "out")), "nothing built yet");
    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    const install = spawnSync(npm, ["install", "--omit=dev", "--no-audit", "--no-fund", "--prefer-offline"], { cwd: copy, encoding: "utf8", timeout: 600_000, shell: process.platform === "win32" });
    assert.equal(install.status, 0, `npm install --omit=dev failed:\n${install.stdout}\n${install.stderr}`);
    // (typescript itself may be there: node-llama-cpp declares it as a peer dependency)
    for (const dev of ["tsx", "electron", "electron-builder", "@playwright/test", "openai"])
        assert.ok(!fs.existsSync(path.join(copy, "node_modules", dev)), `${dev} is not installed`);
    assert.ok(fs.existsSync(path.join(copy, "dist", "hearth.mjs")), "the install compiled dist/hearth.mjs");
    assert.ok(fs.existsSync(path.join(copy, "native", "out", "cpu", "hearth_stage.node")), "the install built the addon");
    const bin = path.join(copy, "bin", "hearth.mjs");
    const distBefore = fs.statSync(path.join(copy, "dist", "hearth.mjs")).mtimeMs;

    const dataDir = path.join(work, "coordinator");
    const hearth = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 300_000, env: { ...process.env, HEARTH_DATA_DIR: dataDir } });
    const model = path.join(work, "model.gguf");
    const made = hearth("make-model", "--out", model, "--layers", "4", "--embd", "64", "--heads", "4", "--kv-heads", "2", "--ff", "128", "--seed", "11", "--quiet");
    assert.equal(made.status, 0, made.stderr);

    const nodes = await Promise.all(["i1", "i2"].map((n) => startNode(n, path.join(work, `node-${n}`), [], { bin })));
    await enroll(dataDir, "install-coordinator");
    try {
        const run = hearth("generate", "--model", model, "--peers", nodes.map((n) => n.address).join(","), "--layers", "0-1,1-4",
            "--prompt", "Hello from an installed copy", "--max-tokens", "8", "--greedy", "--json", "--context-size", "256");
        assert.equal(run.status, 0, run.stderr);
        const out = JSON.parse(run.stdout) as { tokens: number[]; promptTokens: number[]; stages: Array<{ node: string; layers: number[] }> };
        assert.deepEqual(out.stages.map((s) => [s.node, s.layers]), [["i1", [0, 1]], ["i2", [1, 4]]]);
        const tok = await Tokenizer.load(model);
        assert.deepEqual(out.promptTokens, tok.encode("Hello from an installed copy"));
        await tok.dispose();
        assert.deepEqual(out.tokens, await referenceGreedy(model, out.promptTokens, 8, { contextSize: 256 }));
    } finally {
        await Promise.all(nodes.map(stopNode));
    }
    assert.equal(fs.statSync(path.join(copy, "dist", "hearth.mjs")).mtimeMs, distBefore, "hearth ran the build of the install (no rebuild at start)");

    // A source checkout's edit is what runs: a newer app/ file makes bin/hearth.mjs compile first.
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(copy, "app", "version.ts"), later, later);
    const help = hearth("help");
    assert.equal(help.status, 0, help.stderr);
    assert.ok(fs.statSync(path.join(copy, "dist", "hearth.mjs")).mtimeMs > distBefore, "dist/hearth.mjs was rebuilt");
});
