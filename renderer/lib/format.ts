// Figures as the UI shows them (pure). Bytes are in binary units labelled KB/MB/GB, as the CLI
// prints them (`hearth peers`), so the same machine reads the same in both.

const UNITS = ["B", "KB", "MB", "GB", "TB", "PB"];

/** "0 B", "512 B", "1.5 KB", "12.1 GB", "118 GB". */
export function formatBytes(bytes: number): string {
    if (!Number.isFinite(bytes) || bytes <= 0) return "0 B";
    let u = 0;
    let value = bytes;
    while (value >= 1024 && u < UNITS.length - 1) { value /= 1024; u++; }
    if (u === 0) return `${Math.round(value)} B`;
    // 1023.95 KB would print as "1024.0 KB": show it as the next unit instead.
    if (value >= 999.95 && u < UNITS.length - 1) { value /= 1024; u++; }
    return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${UNITS[u]}`;
}

/** "used of total": "3.2 of 16.0 GB", both in the total's unit. */
export function formatUsedOfTotal(used: number, total: number): string {
    if (total <= 0) return formatBytes(used);
    let u = 0;
    let scale = 1;
    while (total / scale >= 1024 && u < UNITS.length - 1) { scale *= 1024; u++; }
    const digits = u === 0 ? 0 : 1;
    return `${(Math.max(0, used) / scale).toFixed(digits)} of ${(total / scale).toFixed(digits)} ${UNITS[u]}`;
}

/** "12.3 MB/s"; "—" when nothing is known yet. */
export function formatRate(bytesPerSecond: number): string {
    if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) return "—";
    return `${formatBytes(bytesPerSecond)}/s`;
}

/** Time left: "45 s", "3 min 20 s", "1 h 05 min"; "unknown" when null. */
export function formatEta(seconds: number | null): string {
    if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return "unknown";
    const s = Math.ceil(seconds);
    if (s < 60) return `${s} s`;
    if (s < 3600) {
        const m = Math.floor(s / 60);
        const rest = s % 60;
        return rest === 0 ? `${m} min` : `${m} min ${rest} s`;
    }
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return `${h} h ${String(m).padStart(2, "0")} min`;
}

/** A countdown to a moment: "9:41", "0:05", "1:00:00"; "0:00" once it is past. */
export function formatCountdown(remainingMs: number): string {
    const s = Math.max(0, Math.ceil(remainingMs / 1000));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = String(s % 60).padStart(2, "0");
    return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** A parameter count: "8.0B", "70B", "350M", "12K". */
export function formatParameters(n: number): string {
    if (!Number.isFinite(n) || n <= 0) return "unknown";
    const [value, suffix] = n >= 1e12 ? [n / 1e12, "T"] : n >= 1e9 ? [n / 1e9, "B"] : n >= 1e6 ? [n / 1e6, "M"] : n >= 1e3 ? [n / 1e3, "K"] : [n, ""];
    return `${value >= 100 || suffix === "" ? value.toFixed(0) : value.toFixed(1)}${suffix}`;
}

/** A figure with about two significant digits, more when large: "12", "1.2", "0.12" (as the CLI). */
export function formatFigure(n: number): string {
    return n >= 10 ? n.toFixed(0) : n >= 1 ? n.toFixed(1) : n.toFixed(2);
}

/** "320 ms", "1.2 s". */
export function formatMs(ms: number): string {
    if (!Number.isFinite(ms) || ms < 0) return "—";
    if (ms < 1000) return `${Math.round(ms)} ms`;
    return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

/** "14.2 tokens/s". */
export function formatTokensPerSecond(tps: number | null): string {
    if (tps === null || !Number.isFinite(tps) || tps <= 0) return "not predicted";
    return `${tps >= 100 ? tps.toFixed(0) : tps.toFixed(1)} tokens/s`;
}

/** A stage's layers, [start, end) as people count them: "layers 0–15" (16 layers). */
export function formatLayerRange(layers: readonly [number, number]): string {
    const [start, end] = layers;
    if (end - start <= 1) return `layer ${start}`;
    return `layers ${start}–${end - 1}`;
}

/** The `data-layers` attribute of a stage: its [start, end) as the contract and the CLI give it ("0-16"). */
export function layersAttribute(layers: readonly [number, number]): string {
    return `${layers[0]}-${layers[1]}`;
}

/** A share as a percentage, 0–100, rounded: 0.456 → "46%". */
export function formatPercent(fraction: number): string {
    if (!Number.isFinite(fraction)) return "—";
    return `${Math.round(Math.min(1, Math.max(0, fraction)) * 100)}%`;
}

/** "just now", "5 min ago", "3 h ago", "2 days ago". */
export function formatAgo(thenMs: number, nowMs: number): string {
    const s = Math.max(0, Math.round((nowMs - thenMs) / 1000));
    if (s < 45) return "just now";
    const m = Math.round(s / 60);
    if (m < 60) return `${m} min ago`;
    const h = Math.round(m / 60);
    if (h < 24) return `${h} h ago`;
    const d = Math.round(h / 24);
    return d === 1 ? "yesterday" : `${d} days ago`;
}

/** The text ending in a full stop (or the mark it has): for messages put into a sentence. */
export function asSentence(text: string): string {
    const t = text.trim();
    if (t === "") return t;
    return /[.!?…:)]$/.test(t) && !t.endsWith(":") ? t : `${t.replace(/:$/, "")}.`;
}

/** A download's progress as a fraction, or null when the total is unknown. */
export function progressFraction(done: number, total: number): number | null {
    if (!(total > 0)) return null;
    return Math.min(1, Math.max(0, done / total));
}

/** The join code's expiry in words: "expires in 9:41", or "expired". */
export function expiryText(expiresAtMs: number, nowMs: number): string {
    const left = expiresAtMs - nowMs;
    return left <= 0 ? "expired" : `expires in ${formatCountdown(left)}`;
}
