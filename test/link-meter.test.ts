// The link figures a node keeps for each member (pure): latency from the median of recent round
// trips, bandwidth from a large payload against a small one, measured again when stale.
import assert from "node:assert/strict";
import { test } from "node:test";
import { LinkMeter, bandwidthFromTimes } from "../app/cluster/link-meter.ts";
import { linksBetweenMembers, type LiveMember } from "../app/host/live-plan.ts";
import { DEFAULT_LINK, linkBetween } from "../app/placement/cost-model.ts";

const T = { timeout: 10000 };

test("latency is half the median of the latest round trips; one slow call does not move it", T, () => {
    const meter = new LinkMeter({ samples: 5 });
    assert.equal(meter.linkTo("b"), null, "nothing before the first round trip");
    for (const ms of [0.4, 0.5, 30, 0.6, 0.5]) meter.addRoundTrip("b", ms, 1000);
    assert.equal(meter.linkTo("b")!.latencyMs, 0.25);
    for (const ms of [2, 2, 2]) meter.addRoundTrip("b", ms, 2000);
    assert.equal(meter.linkTo("b")!.latencyMs, 1, "only the latest 5 count");
    meter.addRoundTrip("b", Number.NaN, 3000);
    meter.addRoundTrip("b", -1, 3000);
    assert.equal(meter.linkTo("b")!.measuredAtMs, 2000, "nonsense samples are dropped");
});

test("bandwidth: from the best times of 1 MiB and an empty payload; measured again when stale; kept when a measurement cannot tell", T, () => {
    assert.equal(bandwidthFromTimes(1_000_000, 11, 1), 100, "1 MB in 10 ms is 100 MB/s");
    assert.equal(bandwidthFromTimes(1_000_000, 1, 1), null, "no slower: cannot tell");
    const meter = new LinkMeter({ bandwidthStaleMs: 60000 });
    meter.addRoundTrip("b", 1, 0);
    assert.equal(meter.needsBandwidth("b", 0), true);
    assert.equal(meter.linkTo("b")!.bandwidthMBs, null);
    meter.setBandwidth("b", 250, 1000);
    assert.equal(meter.needsBandwidth("b", 30000), false);
    assert.equal(meter.needsBandwidth("b", 61000), true);
    meter.setBandwidth("b", null, 62000);
    assert.equal(meter.linkTo("b")!.bandwidthMBs, 250, "a measurement that could not tell keeps the last figure");
    meter.forget("b");
    assert.deepEqual(meter.links(), []);
});

test("the host's links between members: both ends' measurements averaged, unmeasured pairs at the default", T, () => {
    const member = (nodeId: string, links: LiveMember["info"]["links"]): LiveMember => ({
        nodeId, name: nodeId, address: "127.0.0.1:1",
        info: { totalMemoryBytes: 1, freeMemoryBytes: 1, backend: "cpu", inventoryJson: "", gpuTotalBytes: 0, gpuFreeBytes: 0, links }
    });
    const links = linksBetweenMembers([
        member("a", [{ nodeId: "b", latencyMs: 1, bandwidthMbs: 100, measuredAtMs: 1 }, { nodeId: "x", latencyMs: 9, bandwidthMbs: 9, measuredAtMs: 1 }]),
        member("b", [{ nodeId: "a", latencyMs: 3, bandwidthMbs: 0, measuredAtMs: 1 }, { nodeId: "c", latencyMs: 0.5, bandwidthMbs: 800, measuredAtMs: 1 }]),
        member("c", [])
    ]);
    assert.deepEqual(linkBetween(links, "a", "b"), { latencyMs: 2, bandwidthMBs: 100 }, "latency averaged; a bandwidth of 0 is not measured yet");
    assert.deepEqual(linkBetween(links, "c", "b"), { latencyMs: 0.5, bandwidthMBs: 800 }, "symmetric");
    assert.deepEqual(linkBetween(links, "a", "c"), DEFAULT_LINK, "nobody measured it");
    assert.deepEqual(linkBetween(links, "a", "x"), DEFAULT_LINK, "x is not a live member: its figures are ignored");
});
