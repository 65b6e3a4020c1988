// Installers: electron-builder.yml against electron-builder's own configuration schema, the Linux
// app directory electron-builder itself assembles from it (which files go into app.asar, which stay
// outside it, which are left out), the platform pin (npm run check:platforms), and the paths the
// engine maps into app.asar.unpacked.
//
// The unpacked app is built by electron-builder's real `--linux dir` packaging; only the Electron
// binary it would copy in is a stand-in (no Electron download is possible here), given as
// electronDist. Everything the config selects is electron-builder's own file matching.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { listPackage } from "@electron/asar";
import yaml from "js-yaml";
import { DebugLogger, log as builderLogger } from "builder-util";
import { getConfig, validateConfiguration } from "app-builder-lib/out/util/config/config.js";
import { unpackedPath } from "../app/util/package-paths.ts";
// @ts-expect-error: a plain .mjs script, without type declarations
import { buildMain } from "../scripts/build-main.mjs";
// @ts-expect-error: a plain .mjs script, without type declarations
import { buildRenderer } from "../scripts/build-renderer.mjs";
// @ts-expect-error: a plain .mjs script, without type declarations
import { missingTargets, pinnedVersion, PLATFORM_TARGETS } from "../scripts/check-platforms.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const run = promisify(execFile);
const work = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-packaging-"));
after(() => fs.rmSync(work, { recursive: true, force: true }));

// electron-builder's logger writes to stdout in pieces, and a test file's stdout is the test
// runner's channel (a piece inside its framing fails the file): keep its lines here.
const builderLog: string[] = [];
(builderLogger as unknown as { stream: { write(text: string): boolean } }).stream = { write: (text) => builderLog.push(text) > 0 };

async function loadConfig(file: string) {
    return getConfig(path.dirname(file), file, null);
}

describe("electron-builder.yml", () => {
    test("is valid for electron-builder's own schema", { timeout: 60_000 }, async () => {
        const config = await loadConfig(path.join(root, "electron-builder.yml"));
        await validateConfiguration(config, new DebugLogger(false));
        // what the installers must carry
        assert.equal(config.productName, "Hearth");
        assert.deepEqual(config.mac?.extendInfo?.NSBonjourServices, ["_hearth._tcp"], "macOS: the Bonjour service the node advertises");
        assert.match(String(config.mac?.extendInfo?.NSLocalNetworkUsageDescription), /local network/);
        assert.equal(config.npmRebuild, false, "nothing is rebuilt against Electron's headers");
        const nsh = fs.readFileSync(path.join(root, String(config.nsis?.include)), "utf8");
        assert.match(nsh, /!macro customInstall[\s\S]*advfirewall firewall add rule[^\n]*protocol=TCP localport=7420/, "Windows: the node's port is let in");
        assert.match(nsh, /!macro customUnInstall[\s\S]*advfirewall firewall delete rule/, "and the rule goes with the app");
        for (const icon of [config.mac?.icon, config.win?.icon, config.linux?.icon])
            assert.match(String(icon), /^build\/icons\//, "icons come from npm run build:icons (assets/icon.svg)");
    });

    for (const [what, from, to, named] of [
        ["a top-level key", "npmRebuild:", "npmRebuil:", /unknown property 'npmRebuil'/],
        ["a key inside a section", "  title:", "  titel:", /configuration\.dmg should be/]
    ] as const) {
        test(`a wrong key (${what}) fails the schema, naming it`, { timeout: 60_000 }, async () => {
            const dir = fs.mkdtempSync(path.join(work, "typo-"));
            fs.copyFileSync(path.join(root, "package.json"), path.join(dir, "package.json"));
            const text = fs.readFileSync(path.join(root, "electron-builder.yml"), "utf8").replace(from, to);
            assert.ok(text.includes(to), "the typo is in the copy");
            fs.writeFileSync(path.join(dir, "electron-builder.yml"), text);
            const config = await loadConfig(path.join(dir, "electron-builder.yml"));
            await assert.rejects(validateConfiguration(config, new DebugLogger(false)), (e: Error) => {
                assert.match(e.message, /does not match the API schema/);
                assert.match(e.message, named);
                return true;
            });
        });
    }
});

describe("the Linux app directory electron-builder assembles", () => {
    const out = path.join(work, "release");
    const resources = path.join(out, "linux-unpacked", "resources");
    let inAsar: string[] = [];
    let unpacked: string[] = [];

    before(async () => {
        await (buildMain as (o: { quiet: boolean }) => Promise<unknown>)({ quiet: true });
        await (buildRenderer as () => Promise<unknown>)();
        // The stand-in for the Electron binary electron-builder copies in (the only thing not real).
        const electronDist = path.join(work, "electron-dist");
        fs.mkdirSync(path.join(electronDist, "resources"), { recursive: true });
        fs.writeFileSync(path.join(electronDist, "electron"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
        fs.writeFileSync(path.join(electronDist, "LICENSE"), "stand-in\n");
        await run(process.execPath, [path.join(root, "node_modules", "electron-builder", "cli.js"), "--linux", "dir", "--x64", "--publish", "never",
            `-c.electronDist=${electronDist}`, `-c.directories.output=${out}`], { cwd: root, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, CI: "true" } });
        inAsar = listPackage(path.join(resources, "app.asar"), { isPack: false }).map((p) => p.split(path.sep).join("/").replace(/^\//, ""));
        const walk = (dir: string, prefix = ""): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
            e.isDirectory() ? walk(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]);
        unpacked = walk(path.join(resources, "app.asar.unpacked"));
    }, { timeout: 300_000 });

    test("the app's code is in app.asar, and nothing that only builds or tests it", { timeout: 30_000 }, () => {
        for (const f of ["package.json", "main/dist/main.cjs", "main/dist/preload.cjs", "main/dist/worker.js", "renderer/dist/index.html", "renderer/dist/app.js"])
            assert.ok(inAsar.includes(f), `${f} is packaged`);
        assert.ok(inAsar.some((f) => /^native\/vendor\/llama\.cpp-[^/]+\/models\/ggml-vocab-llama-spm\.gguf$/.test(f)), "the built-in test model's vocabulary");
        for (const [what, re] of [["sources", /^(app|test|e2e|scripts|renderer\/[^d])/], ["TypeScript loaders and bundlers", /^node_modules\/(tsx|typescript|esbuild|@esbuild)\//],
            ["the llama.cpp source bundle", /gitRelease\.bundle$/], ["dev dependencies", /^node_modules\/(electron|@playwright|openai|electron-builder)\//]] as const)
            assert.deepEqual([...inAsar, ...unpacked].filter((f) => re.test(f)).slice(0, 5), [], `no ${what}`);
        for (const dep of ["node-llama-cpp", "@grpc/grpc-js", "@grpc/proto-loader", "bonjour-service", "systeminformation", "ws", "@peculiar/x509"])
            assert.ok(inAsar.includes(`node_modules/${dep}/package.json`), `the run-time dependency ${dep}`);
    });

    test("the addons, the .proto files and this target's llama.cpp builds are outside the asar; other targets' are not shipped", { timeout: 30_000 }, () => {
        const backends = fs.readdirSync(path.join(root, "native", "out")).sort();
        assert.ok(backends.includes("cpu"), "a CPU addon was built");
        for (const b of backends) {
            assert.ok(unpacked.includes(`native/out/${b}/hearth_stage.node`), `the ${b} addon is unpacked`);
            // The addon's library folder (relative to itself, as built) is inside the unpacked tree.
            const config = JSON.parse(fs.readFileSync(path.join(resources, "app.asar.unpacked", "native", "out", b, "build-config.json"), "utf8")) as { libDir: string; libs: string[] };
            const libDir = path.resolve(resources, "app.asar.unpacked", "native", "out", b, config.libDir);
            assert.ok(libDir.startsWith(path.join(resources, "app.asar.unpacked") + path.sep), `${b}: ${libDir} is in app.asar.unpacked`);
            for (const lib of config.libs) assert.ok(fs.existsSync(path.join(libDir, lib)), `${b}: ${lib} is shipped where the addon looks`);
        }
        assert.ok(unpacked.includes("proto/hearth/v1/node.proto"), "the .proto file is unpacked");
        for (const pkg of ["linux-x64", "linux-x64-cuda", "linux-x64-vulkan"])
            assert.ok(unpacked.some((f) => new RegExp(`^node_modules/@node-llama-cpp/${pkg}/bins/[^/]+/libllama[^/]*\\.so$`).test(f)), `${pkg}'s libllama is unpacked`);
        // Other targets' builds: installed in this checkout (linux-arm64 declares x64 too), left out of the x64 app.
        const installed = fs.readdirSync(path.join(root, "node_modules", "@node-llama-cpp"));
        const foreign = installed.filter((p) => !p.startsWith("linux-x64"));
        assert.ok(foreign.length > 0, `this checkout has other targets' packages to leave out (${installed.join(", ")})`);
        for (const p of foreign)
            assert.deepEqual([...inAsar, ...unpacked].filter((f) => f.startsWith(`node_modules/@node-llama-cpp/${p}/`)).slice(0, 3), [], `${p} is not shipped`);
        assert.deepEqual(inAsar.filter((f) => /\.(node|so|dylib|dll)$/.test(f) && !unpacked.includes(f)), [], "no native file only inside the asar");
    });
});

describe("the platform pin", () => {
    test("node-llama-cpp is pinned to a version whose binary packages exist for every installer target (npm run check:platforms)", { timeout: 120_000 }, async () => {
        const { stdout } = await run(process.execPath, [path.join(root, "scripts", "check-platforms.mjs")], { cwd: root });
        assert.match(stdout, new RegExp(`node-llama-cpp ${pinnedVersion().replace(/\./g, "\\.")}: every installer target has its prebuilt llama.cpp`));
        for (const t of PLATFORM_TARGETS as Array<{ package: string }>) assert.ok(stdout.includes(`${t.package}@${pinnedVersion()}`), t.package);
    });

    test("check:platforms fails for 3.22.1, naming the macOS and Windows packages it lacks", { timeout: 120_000 }, async () => {
        const failed = await run(process.execPath, [path.join(root, "scripts", "check-platforms.mjs"), "--version", "3.22.1"], { cwd: root }).then(() => null, (e: { code: number; stderr: string }) => e);
        assert.ok(failed != null, "it exits non-zero");
        assert.equal(failed.code, 1);
        for (const pkg of ["mac-arm64-metal", "mac-x64", "win-x64", "win-x64-cuda", "win-x64-vulkan"])
            assert.match(failed.stderr, new RegExp(`@node-llama-cpp/${pkg}@3\\.22\\.1 is not published`), pkg);
        assert.doesNotMatch(failed.stderr, /linux-x64@3\.22\.1/, "the Linux packages of 3.22.1 exist");
    });

    test("missingTargets names the lockfile and the optional dependencies too", () => {
        const version = "9.9.9";
        const published = new Map((PLATFORM_TARGETS as Array<{ package: string }>).map((t) => [t.package, ["9.9.8", version]]));
        const optionalDependencies = Object.fromEntries([...published.keys()].map((p) => [p, version]));
        const lock = Object.fromEntries([...published.keys()].map((p) => [`node_modules/${p}`, { version }]));
        assert.deepEqual(missingTargets(version, { optionalDependencies, published, lock }), []);
        delete lock["node_modules/@node-llama-cpp/win-x64-cuda"];
        delete optionalDependencies["@node-llama-cpp/mac-x64"];
        published.set("@node-llama-cpp/linux-x64-vulkan", null as unknown as string[]);
        const problems = (missingTargets(version, { optionalDependencies, published, lock }) as Array<{ problem: string }>).map((m) => m.problem);
        assert.deepEqual(problems, [
            "node-llama-cpp@9.9.9 does not list @node-llama-cpp/mac-x64@9.9.9 among its optional dependencies",
            "package-lock.json does not keep @node-llama-cpp/win-x64-cuda@9.9.9 (run npm install with that pin so npm ci installs it on Windows)",
            "@node-llama-cpp/linux-x64-vulkan is not on the registry"
        ]);
    });
});

describe("packaged paths", () => {
    test("a path inside app.asar maps to app.asar.unpacked only when the unpacked twin exists", () => {
        const sep = path.sep;
        const inside = ["", "Apps", "Hearth", "resources", "app.asar", "native"].join(sep);
        const twin = ["", "Apps", "Hearth", "resources", "app.asar.unpacked", "native"].join(sep);
        assert.equal(unpackedPath(inside, (p) => p === twin), twin);
        assert.equal(unpackedPath(inside, () => false), inside, "nothing unpacked: the archive path (Electron's fs reads it)");
        const plain = ["", "home", "me", "hearth", "native"].join(sep);
        assert.equal(unpackedPath(plain, () => true), plain, "outside an archive: unchanged");
    });
});

describe("the workflows", () => {
    const load = async (file: string) => yaml.load(fs.readFileSync(path.join(root, ".github", "workflows", file), "utf8")) as
        { on: unknown; jobs: Record<string, { "runs-on": string; strategy?: { matrix: { include: Array<Record<string, string>> } }; steps: Array<{ run?: string; uses?: string }> }> };
    const scripts = (JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    const npmRuns = (steps: Array<{ run?: string }>) => steps.flatMap((s) => [...(s.run ?? "").matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]!));

    test("release.yml builds the dmg on Apple silicon and Intel, the NSIS exe and the AppImage, each on its own OS, after check:platforms", { timeout: 30_000 }, async () => {
        const release = await load("release.yml");
        const job = release.jobs.installer!;
        const targets = job.strategy!.matrix.include.map((m) => [m.os!.replace(/-[\d.]+$/, ""), m.target]);
        assert.deepEqual(targets, [["macos", "--mac dmg --arm64"], ["macos-15-intel", "--mac dmg --x64"], ["windows", "--win nsis --x64"], ["ubuntu", "--linux AppImage --x64"]]);
        const runs = npmRuns(job.steps);
        for (const s of runs) assert.ok(s in scripts, `npm run ${s} is a script`);
        assert.ok(runs.indexOf("check:platforms") >= 0 && runs.indexOf("check:platforms") < runs.indexOf("build"), "the pin is checked first");
        assert.ok(runs.includes("build:icons"));
        assert.ok(job.steps.some((s) => /electron-builder \$\{\{ matrix.target \}\} --publish never/.test(s.run ?? "")));
        assert.ok(job.steps.some((s) => s.uses?.startsWith("actions/upload-artifact")));
        assert.ok(release.jobs.publish!.steps.some((s) => /gh release create/.test(s.run ?? "")));
    });

    test("ci.yml runs the engine tests on macOS and Windows runners and everything on Linux", { timeout: 30_000 }, async () => {
        const ci = await load("ci.yml");
        const oses = ci.jobs.engine!.strategy!.matrix.include.map((m) => m.os);
        assert.ok(oses.some((o) => /^macos/.test(o!)) && oses.some((o) => /^windows/.test(o!)), oses.join(", "));
        const engineRuns = npmRuns(ci.jobs.engine!.steps);
        assert.deepEqual(engineRuns, ["build", "typecheck", "test:engine"]);
        assert.ok(ci.jobs.engine!.steps.some((s) => /^npm ci\b/.test(s.run ?? "")), "npm ci: the lockfile carries every platform's llama.cpp");
        assert.ok(ci.jobs.linux!.steps.some((s) => /npm test/.test(s.run ?? "")));
        for (const s of [...engineRuns, ...npmRuns(ci.jobs.linux!.steps)]) assert.ok(s in scripts, `npm run ${s} is a script`);
    });
});
