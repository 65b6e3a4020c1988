// Keeps the node's utility process running: starts it, restarts it with backoff when it stops
// unexpectedly (restart-policy.ts), gives up after a run of quick failures, and stops it cleanly
// (a "shutdown" message, then a kill when it has not exited within the grace time). It says
// where the node stands through onStatus; main turns that into the app stream's phase and
// message while the node is down. Electron-free: main.ts passes a spawn function that forks.
import { DEFAULT_RESTART_POLICY, decideRestart, formatDelay, type RestartPolicy } from "./restart-policy.ts";
import { isFromWorker, type ToWorker } from "./worker-protocol.ts";

export type NodeStatus =
    | { phase: "starting"; message: string }
    | { phase: "running" }
    | { phase: "failed"; message: string; gaveUp: boolean }
    | { phase: "stopped" };

/** One started node process, as the supervisor drives it. */
export interface NodeProcess<Port> {
    postMessage(message: ToWorker, transfer?: Port[]): void;
    /** ends the process at once */
    kill(): void;
}

export interface NodeProcessEvents {
    message(message: unknown): void;
    exit(code: number): void;
}

export interface Clock {
    now(): number;
    setTimeout(fn: () => void, ms: number): unknown;
    clearTimeout(handle: unknown): void;
}

export const SYSTEM_CLOCK: Clock = {
    now: () => Date.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>)
};

export interface SupervisorOptions<Port> {
    /** starts a node process; its messages and its exit go to `events` */
    spawn: (events: NodeProcessEvents) => NodeProcess<Port>;
    onStatus: (status: NodeStatus) => void;
    policy?: RestartPolicy;
    /** how long a node may take to stop after "shutdown" before it is killed. Defaults to 5 s */
    shutdownGraceMs?: number;
    clock?: Clock;
    /** appended to the message when the supervisor gives up ("The log is in …") */
    giveUpHint?: string;
    log?: (line: string) => void;
}

interface Run<Port> {
    proc: NodeProcess<Port>;
    startedAt: number;
    ready: boolean;
    /** the supervisor asked it to stop: its exit is no failure */
    stopping: boolean;
    exited: boolean;
    /** why it could not start, when it said so before exiting */
    fatal: string | null;
    exit: Promise<number>;
    onExit: (code: number) => void;
}

export class NodeSupervisor<Port> {
    private run: Run<Port> | null = null;
    private quickFailures = 0;
    private restartTimer: unknown = null;
    private current: NodeStatus = { phase: "stopped" };
    /** stop() was called: nothing starts again */
    private finished = false;
    private readonly clock: Clock;
    private readonly policy: RestartPolicy;

    constructor(private readonly options: SupervisorOptions<Port>) {
        this.clock = options.clock ?? SYSTEM_CLOCK;
        this.policy = options.policy ?? DEFAULT_RESTART_POLICY;
    }

    get status(): NodeStatus { return this.current; }
    get running(): boolean { return this.run != null && this.run.ready && !this.run.stopping; }

    /** Starts the node (once; a running or restarting node is left as it is). */
    start(): void {
        if (this.finished || this.run != null || this.restartTimer != null) return;
        this.spawn("starting this machine's node…");
    }

    /** Starts the node afresh (the tray's "Restart the node"): a running one is stopped first, the failure count starts over. */
    async restart(): Promise<void> {
        if (this.finished) return;
        this.cancelTimer();
        const run = this.run;
        if (run != null) await this.terminate(run);
        if (this.finished) return;
        this.quickFailures = 0;
        this.spawn("restarting this machine's node…");
    }

    /** Stops the node for good (quitting): "shutdown", then a kill after the grace time. */
    async stop(): Promise<void> {
        this.finished = true;
        this.cancelTimer();
        const run = this.run;
        if (run != null) await this.terminate(run);
        this.setStatus({ phase: "stopped" });
    }

    /** Hands one end of a window's channel to the running node; false when none runs (the port is not used). */
    connect(connectionId: number, port: Port): boolean {
        const run = this.run;
        if (run == null || !run.ready || run.stopping) return false;
        return this.post(run, { type: "connect", connectionId }, [port]);
    }

    disconnect(connectionId: number): void {
        const run = this.run;
        if (run != null && !run.stopping) this.post(run, { type: "disconnect", connectionId });
    }

    private spawn(message: string): void {
        let onExit: (code: number) => void = () => {};
        const exit = new Promise<number>((resolve) => { onExit = resolve; });
        const run: Run<Port> = {
            proc: undefined as unknown as NodeProcess<Port>, startedAt: this.clock.now(), ready: false, stopping: false, exited: false, fatal: null, exit, onExit
        };
        this.run = run;
        this.setStatus({ phase: "starting", message });
        try {
            run.proc = this.options.spawn({
                message: (m) => this.message(run, m),
                exit: (code) => this.exited(run, code)
            });
        } catch (e) {
            this.options.log?.(`hearth: the node could not be started: ${(e as Error).message}`);
            run.fatal = (e as Error).message;
            this.exited(run, -1);
        }
    }

    private message(run: Run<Port>, message: unknown): void {
        if (!isFromWorker(message)) return;
        if (message.type === "ready") {
            if (run.exited || run.stopping) return;
            run.ready = true;
            if (this.run === run) this.setStatus({ phase: "running" });
        } else if (message.type === "fatal") {
            run.fatal = message.message;
        }
    }

    private exited(run: Run<Port>, code: number): void {
        if (run.exited) return;
        run.exited = true;
        run.onExit(code);
        if (this.run !== run) return;
        this.run = null;
        if (run.stopping || this.finished) return;
        const ranForMs = this.clock.now() - run.startedAt;
        const reason = run.fatal != null
            ? `the node could not start: ${run.fatal}`
            : `the node stopped unexpectedly (exit code ${code})`;
        const decision = decideRestart(this.quickFailures, ranForMs, this.policy);
        this.quickFailures = decision.quickFailures;
        this.options.log?.(`hearth: ${reason} after ${Math.round(ranForMs / 1000)} s (${decision.quickFailures} quick failure(s) in a row)`);
        if (decision.action === "give-up") {
            const hint = this.options.giveUpHint != null && this.options.giveUpHint !== "" ? ` ${this.options.giveUpHint}` : "";
            this.setStatus({
                phase: "failed",
                gaveUp: true,
                message: `${reason}, ${decision.quickFailures} times in a row, so Hearth stopped restarting it. Choose “Restart the node” in Hearth's tray menu, or quit and open Hearth again.${hint}`
            });
            return;
        }
        this.setStatus({ phase: "failed", gaveUp: false, message: `${reason}; restarting in ${formatDelay(decision.delayMs)}…` });
        this.restartTimer = this.clock.setTimeout(() => {
            this.restartTimer = null;
            if (this.finished || this.run != null) return;
            this.spawn(`${reason}; restarting…`);
        }, decision.delayMs);
    }

    /** Asks the run to stop, kills it after the grace time, and resolves once it exited (or could not be made to). */
    private async terminate(run: Run<Port>): Promise<void> {
        if (run.exited) return;
        run.stopping = true;
        this.post(run, { type: "shutdown" });
        const grace = this.options.shutdownGraceMs ?? 5000;
        if (await this.exitWithin(run, grace)) return;
        this.options.log?.(`hearth: the node did not stop within ${formatDelay(grace)}; killing it`);
        try { run.proc.kill(); } catch { /* gone already */ }
        if (await this.exitWithin(run, 2000)) return;
        // Never hang a quit on a process that will not say it ended.
        this.options.log?.("hearth: the node's exit was not seen after the kill");
        this.exited(run, -1);
    }

    private exitWithin(run: Run<Port>, ms: number): Promise<boolean> {
        if (run.exited) return Promise.resolve(true);
        return new Promise<boolean>((resolve) => {
            const timer = this.clock.setTimeout(() => resolve(false), ms);
            void run.exit.then(() => {
                this.clock.clearTimeout(timer);
                resolve(true);
            });
        });
    }

    private post(run: Run<Port>, message: ToWorker, transfer?: Port[]): boolean {
        try {
            if (transfer != null) run.proc.postMessage(message, transfer);
            else run.proc.postMessage(message);
            return true;
        } catch (e) {
            this.options.log?.(`hearth: a message to the node failed: ${(e as Error).message}`);
            return false;
        }
    }

    private cancelTimer(): void {
        if (this.restartTimer != null) this.clock.clearTimeout(this.restartTimer);
        this.restartTimer = null;
    }

    private setStatus(status: NodeStatus): void {
        this.current = status;
        try {
            this.options.onStatus(status);
        } catch (e) {
            this.options.log?.(`hearth: a node status listener threw: ${(e as Error).message}`);
        }
    }
}
