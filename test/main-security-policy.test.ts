// The desktop window's security rules as pure functions: what may load, navigate, open in the
// OS browser; the CSP on every response; which file a hearth://app/ URL serves; who may ask main
// for a port.
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import {
    APP_CSP, APP_ENTRY_URL, contentTypeOf, isAppUrl, isSafeExternalUrl, isTrustedIpcSender, navigationDecision, permissionAllowed,
    resolveAppFile, windowOpenDecision, withCsp
} from "../main/security-policy.ts";

const T = { timeout: 10000 };

test("only hearth://app/ URLs are the app's", T, () => {
    assert.equal(isAppUrl(APP_ENTRY_URL), true);
    assert.equal(isAppUrl("hearth://app/app.js?x=1#y"), true);
    for (const url of [
        "hearth://app.evil.example/index.html", "hearth://evil/index.html", "hearth://user@app/index.html", "https://app/index.html",
        "file:///index.html", "javascript:alert(1)", "not a url", ""
    ]) assert.equal(isAppUrl(url), false, url);
});

test("navigation stays in the app; http(s) goes to the OS browser; everything else is denied", T, () => {
    assert.equal(navigationDecision("hearth://app/index.html"), "allow");
    assert.equal(navigationDecision("https://huggingface.co/models"), "external");
    assert.equal(navigationDecision("http://192.168.1.20:7421/"), "external");
    for (const url of ["file:///etc/passwd", "javascript:alert(1)", "data:text/html,<script>1</script>", "mailto:a@b.c", "smb://host/share", "https://x@evil.example/", "hearth://other/"]) {
        assert.equal(navigationDecision(url), "deny", url);
    }
});

test("new windows never open in the app: http(s) goes to the OS browser, the rest is denied", T, () => {
    assert.equal(windowOpenDecision("https://github.com/"), "external");
    assert.equal(windowOpenDecision("hearth://app/index.html"), "deny");
    assert.equal(windowOpenDecision("file:///tmp/x.html"), "deny");
    assert.equal(windowOpenDecision("about:blank"), "deny");
});

test("an external URL must be plain http(s) with a host, no credentials, not absurdly long", T, () => {
    assert.equal(isSafeExternalUrl("https://example.com/a?b=c"), true);
    assert.equal(isSafeExternalUrl("https://bank.example:pw@evil.example/"), false);
    assert.equal(isSafeExternalUrl("ftp://example.com/"), false);
    assert.equal(isSafeExternalUrl(`https://example.com/${"a".repeat(3000)}`), false);
    assert.equal(isSafeExternalUrl("https://"), false);
});

test("every response gets the app's CSP in place of any it had", T, () => {
    const out = withCsp({ "content-security-policy": ["default-src *"], "Content-Security-Policy-Report-Only": "x", "Content-Type": "text/html", "X-Many": ["a", "b"] });
    assert.deepEqual(out, { "Content-Type": ["text/html"], "X-Many": ["a", "b"], "Content-Security-Policy": [APP_CSP] });
    assert.deepEqual(withCsp(undefined), { "Content-Security-Policy": [APP_CSP] });
    for (const directive of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'"]) {
        assert.ok(APP_CSP.split("; ").includes(directive), directive);
    }
    assert.ok(!APP_CSP.includes("unsafe-inline") && !APP_CSP.includes("unsafe-eval"));
});

test("hearth://app/ URLs map to files in the renderer's folder and never outside it", T, () => {
    const dir = path.resolve("/srv/renderer/dist");
    assert.equal(resolveAppFile(dir, "hearth://app/"), path.join(dir, "index.html"));
    assert.equal(resolveAppFile(dir, "hearth://app/index.html"), path.join(dir, "index.html"));
    assert.equal(resolveAppFile(dir, "hearth://app/assets/app.js?v=2"), path.join(dir, "assets", "app.js"));
    assert.equal(resolveAppFile(dir, "hearth://app/a%20b.css"), path.join(dir, "a b.css"));
    // Dot segments the URL parser removes itself stay inside the folder.
    for (const url of ["hearth://app/%2e%2e/secret", "hearth://app/a/%2E%2E/%2E%2E/secret", "hearth://app/../../secret", "hearth://app//secret"]) {
        assert.equal(resolveAppFile(dir, url), path.join(dir, "secret"), url);
    }
    // Encoded separators, backslashes, NUL bytes, bad escapes, other hosts and schemes name nothing.
    for (const url of [
        "hearth://app/..%2fsecret", "hearth://app/%2e%2e%2f%2e%2e%2fetc", "hearth://app/a/..%2f..%2fdist%2fx", "hearth://app/..%5csecret", "hearth://app/C:%5cWindows", "hearth://app/C:/Windows/win.ini", "hearth://app/index.html::$DATA",
        "hearth://app/x%00.js", "hearth://app/%E0%A4%A", "hearth://evil/index.html", "file:///srv/renderer/dist/index.html"
    ]) assert.equal(resolveAppFile(dir, url), null, url);
});

test("files are served with their content types", T, () => {
    assert.equal(contentTypeOf("/x/index.html"), "text/html; charset=utf-8");
    assert.equal(contentTypeOf("/x/app.JS"), "text/javascript; charset=utf-8");
    assert.equal(contentTypeOf("/x/app.css"), "text/css; charset=utf-8");
    assert.equal(contentTypeOf("/x/blob.bin"), "application/octet-stream");
});

test("the page gets no permission but writing to the clipboard from the app itself", T, () => {
    assert.equal(permissionAllowed("clipboard-sanitized-write", "hearth://app"), true);
    assert.equal(permissionAllowed("clipboard-sanitized-write", "https://evil.example"), false);
    for (const p of ["media", "geolocation", "notifications", "clipboard-read", "openExternal", "fullscreen"]) assert.equal(permissionAllowed(p, "hearth://app/index.html"), false, p);
    assert.equal(permissionAllowed("clipboard-sanitized-write", null), false);
});

test("main answers IPC only from the top frame of its own window showing the app", T, () => {
    assert.equal(isTrustedIpcSender({ isOwnWindow: true, isTopFrame: true, frameUrl: "hearth://app/index.html" }), true);
    assert.equal(isTrustedIpcSender({ isOwnWindow: false, isTopFrame: true, frameUrl: "hearth://app/index.html" }), false, "another window");
    assert.equal(isTrustedIpcSender({ isOwnWindow: true, isTopFrame: false, frameUrl: "hearth://app/index.html" }), false, "a frame in the page");
    assert.equal(isTrustedIpcSender({ isOwnWindow: true, isTopFrame: true, frameUrl: "https://evil.example/" }), false, "navigated away");
    assert.equal(isTrustedIpcSender({ isOwnWindow: true, isTopFrame: true, frameUrl: null }), false, "no frame");
});
