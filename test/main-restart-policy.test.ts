// The desktop shell's restart policy for the node's utility process: growing delays, a cap,
// giving up after five quick failures in a row, and a fresh count after a run that lasted.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_RESTART_POLICY, decideRestart, formatDelay, restartDelay, type RestartPolicy } from "../main/restart-policy.ts";

const T = { timeout: 10000 };

test("quick failures restart after 1 s, 2 s, 5 s, 10 s, and the fifth gives up", T, () => {
    let count = 0;
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) {
        const d = decideRestart(count, 3000);
        count = d.quickFailures;
        seen.push(d.action === "restart" ? `restart ${d.delayMs}` : `give-up ${d.quickFailures}`);
    }
    assert.deepEqual(seen, ["restart 1000", "restart 2000", "restart 5000", "restart 10000", "give-up 5"]);
});

test("a run that lasted past stableAfterMs starts the count over, however many failures came before", T, () => {
    const after4 = decideRestart(4, DEFAULT_RESTART_POLICY.stableAfterMs);
    assert.deepEqual(after4, { action: "restart", delayMs: 1000, quickFailures: 1 });
    const justShort = decideRestart(4, DEFAULT_RESTART_POLICY.stableAfterMs - 1);
    assert.equal(justShort.action, "give-up", "a run 1 ms short of stable is a quick failure");
});

test("the delay is capped at the last one when the policy allows more failures than it lists delays", T, () => {
    const policy: RestartPolicy = { delaysMs: [100, 200, 500], maxQuickFailures: 10, stableAfterMs: 1000 };
    const delays: number[] = [];
    let count = 0;
    for (let i = 0; i < 6; i++) {
        const d = decideRestart(count, 10, policy);
        assert.equal(d.action, "restart");
        if (d.action === "restart") delays.push(d.delayMs);
        count = d.quickFailures;
    }
    assert.deepEqual(delays, [100, 200, 500, 500, 500, 500]);
    assert.equal(restartDelay(0, policy), 100, "a failure number below 1 counts as the first");
    assert.equal(restartDelay(99, policy), 500);
    assert.equal(restartDelay(3, { ...policy, delaysMs: [] }), 0, "no delays: restart at once");
});

test("a policy that gives up at once gives up on the first quick failure but not after a stable run", T, () => {
    const policy: RestartPolicy = { delaysMs: [1000], maxQuickFailures: 1, stableAfterMs: 5000 };
    assert.deepEqual(decideRestart(0, 10, policy), { action: "give-up", quickFailures: 1 });
    assert.equal(decideRestart(0, 5000, policy).action, "restart");
});

test("delays read as seconds, then minutes", T, () => {
    assert.equal(formatDelay(1000), "1 s");
    assert.equal(formatDelay(30_000), "30 s");
    assert.equal(formatDelay(120_000), "2 min");
    assert.equal(formatDelay(10), "1 s", "never '0 s'");
});
