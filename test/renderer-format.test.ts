// How the UI writes figures: bytes, rates, time left, the invite's countdown, parameters, layers.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
    expiryText, formatAgo, formatBytes, formatCountdown, formatEta, formatFigure, formatLayerRange, formatMs,
    formatParameters, formatPercent, formatRate, formatTokensPerSecond, formatUsedOfTotal, layersAttribute, progressFraction
} from "../renderer/lib/format.ts";

const GB = 1024 ** 3;

test("bytes in binary units, as the CLI prints them", { timeout: 10000 }, () => {
    assert.equal(formatBytes(0), "0 B");
    assert.equal(formatBytes(-5), "0 B");
    assert.equal(formatBytes(512), "512 B");
    assert.equal(formatBytes(1536), "1.5 KB");
    assert.equal(formatBytes(4.7 * GB), "4.7 GB");
    assert.equal(formatBytes(118 * GB), "118 GB");
    assert.equal(formatBytes(1023.99 * 1024), "1.0 MB", "no '1024.0 KB'");
    assert.equal(formatUsedOfTotal(3.2 * GB, 16 * GB), "3.2 of 16.0 GB");
    assert.equal(formatUsedOfTotal(-1, 16 * GB), "0.0 of 16.0 GB");
    assert.equal(formatRate(12.3 * 1024 * 1024), "12.3 MB/s");
    assert.equal(formatRate(0), "—");
});

test("time left (ETA), and the countdown to the join code's expiry", { timeout: 10000 }, () => {
    assert.equal(formatEta(null), "unknown");
    assert.equal(formatEta(44.2), "45 s");
    assert.equal(formatEta(60), "1 min");
    assert.equal(formatEta(200), "3 min 20 s");
    assert.equal(formatEta(3900), "1 h 05 min");
    assert.equal(formatCountdown(581_000), "9:41");
    assert.equal(formatCountdown(4_001), "0:05", "a second begun still counts");
    assert.equal(formatCountdown(-10), "0:00");
    assert.equal(formatCountdown(3_600_000), "1:00:00");
    assert.equal(expiryText(10_000 + 600_000, 10_000), "expires in 10:00");
    assert.equal(expiryText(10_000, 10_000), "expired");
});

test("parameters, figures, durations, speeds, shares, progress", { timeout: 10000 }, () => {
    assert.equal(formatParameters(8.03e9), "8.0B");
    assert.equal(formatParameters(70.6e9), "70.6B");
    assert.equal(formatParameters(405e9), "405B");
    assert.equal(formatParameters(350e6), "350M");
    assert.equal(formatParameters(0), "unknown");
    assert.equal(formatFigure(12.4), "12");
    assert.equal(formatFigure(1.23), "1.2");
    assert.equal(formatFigure(0.123), "0.12");
    assert.equal(formatMs(320.4), "320 ms");
    assert.equal(formatMs(1234), "1.2 s");
    assert.equal(formatTokensPerSecond(14.24), "14.2 tokens/s");
    assert.equal(formatTokensPerSecond(null), "not predicted");
    assert.equal(formatPercent(0.456), "46%");
    assert.equal(formatPercent(3), "100%");
    assert.equal(progressFraction(5, 10), 0.5);
    assert.equal(progressFraction(5, 0), null, "unknown total: no fraction");
    assert.equal(progressFraction(15, 10), 1);
    assert.equal(formatAgo(0, 30_000), "just now");
    assert.equal(formatAgo(0, 5 * 60_000), "5 min ago");
    assert.equal(formatAgo(0, 3 * 3_600_000), "3 h ago");
});

test("layer ranges: [start, end) shown as people count, and as the data attribute gives it", { timeout: 10000 }, () => {
    assert.equal(formatLayerRange([0, 16]), "layers 0–15");
    assert.equal(formatLayerRange([16, 17]), "layer 16");
    assert.equal(layersAttribute([0, 16]), "0-16");
    assert.equal(layersAttribute([16, 32]), "16-32");
});
