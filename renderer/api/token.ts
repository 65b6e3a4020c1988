// The web UI's login token: the node prints a link with `?token=…`; the page takes it from the
// address on its first load, keeps it in sessionStorage (so a reload still works), takes it out
// of the address bar, and sends it as the `token` query parameter of the WebSocket URL.

export const TOKEN_STORAGE_KEY = "hearth.loginToken";

export interface LocationLike { protocol: string; host: string; href: string }
export interface StorageLike { getItem(key: string): string | null; setItem(key: string, value: string): void }
export interface HistoryLike { replaceState(data: unknown, unused: string, url?: string): void }

/** The token: from the address when it has one (then kept in `storage` and removed from the address), else the kept one. */
export function takeLoginToken(location: LocationLike, storage: StorageLike | null, history: HistoryLike | null = null): string | null {
    let url: URL;
    try { url = new URL(location.href); } catch { return readStored(storage); }
    const fromUrl = url.searchParams.get("token");
    if (fromUrl !== null && fromUrl !== "") {
        try { storage?.setItem(TOKEN_STORAGE_KEY, fromUrl); } catch { /* storage may be off; the token still works this once */ }
        if (history !== null) {
            url.searchParams.delete("token");
            try { history.replaceState(null, "", url.pathname + url.search + url.hash); } catch { /* not essential */ }
        }
        return fromUrl;
    }
    return readStored(storage);
}

function readStored(storage: StorageLike | null): string | null {
    try {
        const stored = storage?.getItem(TOKEN_STORAGE_KEY) ?? null;
        return stored === "" ? null : stored;
    } catch {
        return null;
    }
}

/** `ws://host/api?token=…` (wss on an https page). */
export function bridgeUrl(location: Pick<LocationLike, "protocol" | "host">, token: string | null): string {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = token === null ? "" : `?token=${encodeURIComponent(token)}`;
    return `${scheme}://${location.host}/api${query}`;
}
