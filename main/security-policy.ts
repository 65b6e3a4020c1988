// What the window may load, navigate to and open, as pure functions (main.ts wires them to
// Electron). The renderer is served from one privileged scheme, hearth://app/, out of
// renderer/dist: a real origin for 'self' in the Content-Security-Policy (file:// has none, and
// file:// pages may read any file), and nothing else is ever loaded in the window. Links to
// http(s) pages open in the OS browser; everything else is refused.
import path from "node:path";

export const APP_SCHEME = "hearth";
export const APP_HOST = "app";
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_ENTRY_URL = `${APP_ORIGIN}/index.html`;

/** The window's Content-Security-Policy: its own scripts, styles and images only, no inline code, no other hosts. */
export const APP_CSP = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'"
].join("; ");

/** Whether `url` is a page or file of the app itself (hearth://app/…). */
export function isAppUrl(url: string): boolean {
    const u = parse(url);
    return u != null && u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST && u.username === "" && u.password === "";
}

/** Whether `url` may be handed to the OS (shell.openExternal): a plain http(s) address, nothing else. */
export function isSafeExternalUrl(url: string): boolean {
    if (typeof url !== "string" || url.length > 2048) return false;
    const u = parse(url);
    if (u == null) return false;
    if (u.protocol !== "https:" && u.protocol !== "http:") return false;
    // "https://bank.example@evil.example/" reads as one host and goes to another.
    if (u.username !== "" || u.password !== "") return false;
    return u.hostname !== "";
}

export type NavigationDecision = "allow" | "external" | "deny";

/** A navigation the page (or a link in it) starts: inside the app it may; http(s) goes to the OS browser; all else is denied. */
export function navigationDecision(url: string): NavigationDecision {
    if (isAppUrl(url)) return "allow";
    if (isSafeExternalUrl(url)) return "external";
    return "deny";
}

/** A new window the page asks for (window.open, target=_blank): never in the app; http(s) goes to the OS browser. */
export function windowOpenDecision(url: string): "external" | "deny" {
    return isSafeExternalUrl(url) ? "external" : "deny";
}

/** Response headers with the app's CSP in place of any the response had (header names compare case-insensitively). */
export function withCsp(headers: Record<string, string | string[]> | undefined, csp: string = APP_CSP): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [name, value] of Object.entries(headers ?? {})) {
        const lower = name.toLowerCase();
        if (lower === "content-security-policy" || lower === "content-security-policy-report-only") continue;
        out[name] = Array.isArray(value) ? value : [value];
    }
    out["Content-Security-Policy"] = [csp];
    return out;
}

/**
 * The file under `rendererDir` that a hearth://app/ URL names, or null when it names none: another
 * scheme or host, a path that leaves the folder (`..`, encoded or not), a backslash, colon or NUL byte.
 * "/" is index.html.
 */
export function resolveAppFile(rendererDir: string, url: string): string | null {
    if (!isAppUrl(url)) return null;
    const u = parse(url)!;
    let rel: string;
    try {
        rel = decodeURIComponent(u.pathname);
    } catch {
        return null;
    }
    // NUL, backslashes and colons (Windows drive letters, NTFS streams) have no place in the UI's file names.
    if (rel.includes("\0") || rel.includes("\\") || rel.includes(":")) return null;
    if (rel === "" || rel === "/") rel = "/index.html";
    const segments = rel.split("/");
    if (segments.some((s) => s === "..")) return null;
    const root = path.resolve(rendererDir);
    const file = path.resolve(root, `.${rel}`);
    if (!file.startsWith(root + path.sep)) return null;
    return file;
}

const CONTENT_TYPES: Record<string, string> = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".wasm": "application/wasm"
};

export function contentTypeOf(file: string): string {
    return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream";
}

/**
 * Whether the page may have a web permission (camera, notifications, geolocation, …): none, but
 * writing to the clipboard from the app's own page (its copy buttons: join codes, replies).
 */
export function permissionAllowed(permission: string, requestingUrl: string | null | undefined): boolean {
    return permission === "clipboard-sanitized-write" && typeof requestingUrl === "string" && isAppUrl(requestingUrl);
}

/**
 * Whether an IPC message comes from the app's own page: the top frame of the window main made,
 * showing a hearth://app/ page (not a frame inside it, not another window, not a page it navigated to).
 */
export function isTrustedIpcSender(sender: { isOwnWindow: boolean; isTopFrame: boolean; frameUrl: string | null | undefined }): boolean {
    return sender.isOwnWindow && sender.isTopFrame && typeof sender.frameUrl === "string" && isAppUrl(sender.frameUrl);
}

function parse(url: string): URL | null {
    if (typeof url !== "string") return null;
    try {
        return new URL(url);
    } catch {
        return null;
    }
}
