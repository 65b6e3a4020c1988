// The node's supervisor (main/supervisor.ts) with fake processes and a fake clock: ports only to
// a node that said "ready", restarts with backoff after an unexpected exit and what the UI is
// told meanwhile, giving up after five quick failures, a manual restart, and a clean stop that
// kills a node that does not exit within the grace time.
import assert from "node:assert/strict";
import { test } from "node:test";
import { NodeSupervisor, type Clock, type NodeProcessEvents, type NodeStatus } from "../main/supervisor.ts";
import type { ToWorker } from "../main/worker-protocol.ts";

const T = { timeout: 10000 };
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

class FakeClock implements Clock {
    t = 0;
    private timers: Array<{ at: number; fn: () => void; id: number }> = [];
    private nextId = 1;
    now(): number { return this.t; }
    setTimeout(fn: () => void, ms: number): unknown { const id = this.nextId++; this.timers.push({ at: this.t + ms, fn, id }); return id; }
    clearTimeout(handle: unknown): void { this.timers = this.timers.filter((x) => x.id !== handle); }
    /** moves time on, firing what falls due in order */
    advance(ms: number): void {
        const end = this.t + ms;
        for (;;) {
            this.timers.sort((a, b) => a.at - b.at);
            const next = this.timers[0];
            if (next == null || next.at > end) break;
            this.timers.shift();
            this.t = next.at;
            next.fn();
        }
        this.t = end;
    }
    get pending(): number { return this.timers.length; }
}

interface FakeProc { events: NodeProcessEvents; posted: Array<{ message: ToWorker; transfer: string[] | undefined }>; killed: boolean }

function harness(options: { exitOnShutdown?: boolean; exitOnKill?: boolean } = {}) {
    const clock = new FakeClock();
    const procs: FakeProc[] = [];
    const statuses: NodeStatus[] = [];
    const supervisor = new NodeSupervisor<string>({
        clock,
        giveUpHint: "The node's log is /data/logs/node.log.",
        onStatus: (s) => statuses.push(s),
        spawn: (events) => {
            const p: FakeProc = { events, posted: [], killed: false };
            procs.push(p);
            return {
                postMessage: (message, transfer) => {
                    p.posted.push({ message, transfer });
                    if (message.type === "shutdown" && options.exitOnShutdown !== false) queueMicrotask(() => events.exit(0));
                },
                kill: () => { p.killed = true; if (options.exitOnKill !== false) queueMicrotask(() => events.exit(143)); }
            };
        }
    });
    return { clock, procs, statuses, supervisor, last: () => statuses.at(-1)! };
}

test("a node gets ports only once it said ready", T, () => {
    const h = harness();
    h.supervisor.start();
    h.supervisor.start();
    assert.equal(h.procs.length, 1, "start is idempotent");
    assert.deepEqual(h.last(), { phase: "starting", message: "starting this machine's node…" });
    assert.equal(h.supervisor.connect(1, "port-a"), false, "not ready yet");
    h.procs[0]!.events.message({ type: "ready" });
    assert.deepEqual(h.last(), { phase: "running" });
    assert.equal(h.supervisor.connect(2, "port-b"), true);
    h.supervisor.disconnect(2);
    assert.deepEqual(h.procs[0]!.posted, [
        { message: { type: "connect", connectionId: 2 }, transfer: ["port-b"] },
        { message: { type: "disconnect", connectionId: 2 }, transfer: undefined }
    ]);
});

test("an unexpected exit says why and restarts after 1 s, then 2 s; the UI hears failed, then starting, then running", T, () => {
    const h = harness();
    h.supervisor.start();
    h.procs[0]!.events.message({ type: "ready" });
    h.clock.advance(5000);
    h.procs[0]!.events.exit(134);
    assert.deepEqual(h.last(), { phase: "failed", gaveUp: false, message: "the node stopped unexpectedly (exit code 134); restarting in 1 s…" });
    assert.equal(h.supervisor.running, false);
    h.clock.advance(999);
    assert.equal(h.procs.length, 1, "not before the delay");
    h.clock.advance(1);
    assert.equal(h.procs.length, 2);
    assert.deepEqual(h.last(), { phase: "starting", message: "the node stopped unexpectedly (exit code 134); restarting…" });
    h.procs[1]!.events.message({ type: "ready" });
    assert.deepEqual(h.last(), { phase: "running" });
    h.procs[1]!.events.exit(6);
    assert.match((h.last() as { message: string }).message, /exit code 6\); restarting in 2 s…$/);
});

test("a node that cannot start says so; after five quick failures the supervisor gives up and says what to do", T, () => {
    const h = harness();
    h.supervisor.start();
    for (let i = 0; i < 5; i++) {
        const p = h.procs.at(-1)!;
        p.events.message({ type: "fatal", message: "the data folder /x is not writable" });
        p.events.exit(1);
        if (i < 4) h.clock.advance(60_000);
    }
    assert.equal(h.procs.length, 5);
    const final = h.last();
    assert.equal(final.phase, "failed");
    assert.equal((final as { gaveUp: boolean }).gaveUp, true);
    assert.equal((final as { message: string }).message,
        "the node could not start: the data folder /x is not writable, 5 times in a row, so Hearth stopped restarting it. Choose “Restart the node” in Hearth's tray menu, or quit and open Hearth again. The node's log is /data/logs/node.log.");
    h.clock.advance(10 * 60_000);
    assert.equal(h.procs.length, 5, "no restart after giving up");
    assert.equal(h.clock.pending, 0);
});

test("a run that lasted resets the count: failures spread out never give up", T, () => {
    const h = harness();
    h.supervisor.start();
    for (let i = 0; i < 8; i++) {
        h.procs.at(-1)!.events.message({ type: "ready" });
        h.clock.advance(61_000);
        h.procs.at(-1)!.events.exit(134);
        assert.match((h.last() as { message: string }).message, /restarting in 1 s…$/, `failure ${i + 1}`);
        h.clock.advance(1000);
    }
    assert.equal(h.procs.length, 9);
});

test("a manual restart after giving up starts again with a fresh count", T, async () => {
    const h = harness();
    h.supervisor.start();
    for (let i = 0; i < 5; i++) { h.procs.at(-1)!.events.exit(134); h.clock.advance(30_000); }
    assert.equal((h.last() as { gaveUp?: boolean }).gaveUp, true);
    await h.supervisor.restart();
    assert.equal(h.procs.length, 6);
    assert.deepEqual(h.last(), { phase: "starting", message: "restarting this machine's node…" });
    h.procs[5]!.events.exit(134);
    assert.match((h.last() as { message: string }).message, /restarting in 1 s…$/);
});

test("a manual restart of a running node stops it cleanly first, and its exit is no failure", T, async () => {
    const h = harness();
    h.supervisor.start();
    h.procs[0]!.events.message({ type: "ready" });
    await h.supervisor.restart();
    assert.deepEqual(h.procs[0]!.posted.map((p) => p.message.type), ["shutdown"]);
    assert.equal(h.procs.length, 2);
    assert.ok(!h.statuses.some((s) => s.phase === "failed"), "no failure was reported");
});

test("stop sends shutdown and waits; a node that does not exit within 5 s is killed; nothing restarts after", T, async () => {
    const h = harness({ exitOnShutdown: false });
    h.supervisor.start();
    h.procs[0]!.events.message({ type: "ready" });
    const stopped = h.supervisor.stop();
    await Promise.resolve();
    assert.deepEqual(h.procs[0]!.posted.map((p) => p.message.type), ["shutdown"]);
    h.clock.advance(4999);
    assert.equal(h.procs[0]!.killed, false, "not before the grace time");
    h.clock.advance(1);
    await flush();
    assert.equal(h.procs[0]!.killed, true);
    await stopped;
    assert.deepEqual(h.last(), { phase: "stopped" });
    h.clock.advance(60_000);
    assert.equal(h.procs.length, 1);
    h.supervisor.start();
    assert.equal(h.procs.length, 1, "a stopped supervisor starts nothing");
});

test("a node that exits at once on shutdown is not killed, and stop during a restart delay cancels it", T, async () => {
    const h = harness();
    h.supervisor.start();
    h.procs[0]!.events.message({ type: "ready" });
    h.procs[0]!.events.exit(134);
    assert.equal(h.clock.pending, 1, "a restart is due");
    await h.supervisor.stop();
    assert.equal(h.clock.pending, 0);
    h.clock.advance(10_000);
    assert.equal(h.procs.length, 1);

    const g = harness();
    g.supervisor.start();
    g.procs[0]!.events.message({ type: "ready" });
    await g.supervisor.stop();
    assert.equal(g.procs[0]!.killed, false);
});

test("a node whose exit is never seen, even after the kill, does not hang the quit", T, async () => {
    const h = harness({ exitOnShutdown: false, exitOnKill: false });
    h.supervisor.start();
    const stopped = h.supervisor.stop();
    await flush();
    h.clock.advance(5000);
    await flush();
    h.clock.advance(2000);
    await stopped;
    assert.deepEqual(h.last(), { phase: "stopped" });
});
