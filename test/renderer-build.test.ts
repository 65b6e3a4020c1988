// The renderer's build and its boundary: the bundle (index.html, app.js, app.css) works under
// the strict Content-Security-Policy, and the renderer's sources import nothing of Node nor
// anything of the engine but the contract (its types, and the pure fold).
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
// @ts-expect-error: a plain .mjs script, without type declarations
import { buildRenderer } from "../scripts/build-renderer.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-renderer-build-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'";

test("the build writes index.html, app.js and app.css (minified, with source maps), fit for the strict CSP", { timeout: 10000 }, async () => {
    const out = path.join(dir, "dist");
    await (buildRenderer as (o: { outDir: string }) => Promise<unknown>)({ outDir: out });
    for (const f of ["index.html", "app.js", "app.css", "app.js.map", "app.css.map"]) assert.ok(fs.statSync(path.join(out, f)).size > 0, f);
    const html = fs.readFileSync(path.join(out, "index.html"), "utf8");
    assert.ok(html.includes(`<meta http-equiv="Content-Security-Policy" content="${CSP}">`), "the CSP as a meta tag");
    assert.match(html, /<script defer src="app.js"><\/script>/);
    assert.match(html, /<link rel="stylesheet" href="app.css">/);
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, "no inline script");
    assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i, "no inline style or handler");
    const js = fs.readFileSync(path.join(out, "app.js"), "utf8");
    assert.ok(js.length / js.split("\n").length > 2000, "minified: long lines, not indented source");
    // (assert.ok, not doesNotMatch: a failure should not print the whole bundle)
    assert.ok(!/\beval\(|new Function\(/.test(js), "nothing the CSP's script-src 'self' would refuse");
    assert.ok(!/require\("(node:)?(fs|path|os|child_process|net)"\)/.test(js), "no Node modules in the bundle");
    const css = fs.readFileSync(path.join(out, "app.css"), "utf8");
    assert.match(css, /prefers-color-scheme:\s*dark/);
    // The brand mark is the installers' icon, inlined (no file to serve; the CSP allows img-src data:).
    const icon = fs.readFileSync(path.join(root, "assets", "icon.svg"), "utf8");
    const viewBox = /viewBox="[^"]+"/.exec(icon)?.[0];
    assert.ok(viewBox != null, "the icon has a viewBox");
    assert.ok(css.includes("data:image/svg+xml,") && css.includes(viewBox), "app.css carries assets/icon.svg as a data: URL");
});

function sources(dirPath: string): string[] {
    return fs.readdirSync(dirPath, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dirPath, e.name);
        if (e.isDirectory()) return e.name === "dist" ? [] : sources(p);
        return /\.(ts|tsx)$/.test(e.name) ? [p] : [];
    });
}

test("renderer sources: no Node modules or globals; from app/ only types, and the contract's pure fold", { timeout: 10000 }, () => {
    const files = sources(path.join(root, "renderer"));
    assert.ok(files.length >= 10, "the renderer's files are found");
    const problems: string[] = [];
    for (const file of files) {
        const text = fs.readFileSync(file, "utf8");
        const rel = path.relative(root, file);
        for (const m of text.matchAll(/^import\s+(type\s+)?[^;]*?from\s+"([^"]+)"/gm)) {
            const [, typeOnly, spec] = m;
            if (/^node:|^(fs|path|os|child_process|net|crypto|events|stream)$/.test(spec!)) problems.push(`${rel}: imports ${spec}`);
            if (spec!.includes("/app/") && !typeOnly && !spec!.endsWith("app/ui-api/contract.ts")) problems.push(`${rel}: imports values from ${spec}`);
        }
        if (/\b(process\.|Buffer\b|require\(|__dirname)/.test(text.replace(/\/\/.*$/gm, ""))) problems.push(`${rel}: uses a Node global`);
        if (/dangerouslySetInnerHTML|innerHTML\s*=/.test(text)) problems.push(`${rel}: sets HTML`);
    }
    assert.deepEqual(problems, []);
});
