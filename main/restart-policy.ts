// When the node (the utility process running the engine) stops without being asked to, the shell
// restarts it after a growing delay, and gives up after a run of quick failures: a node that dies
// within seconds of every start would otherwise spin forever. A run that lasted (stableAfterMs)
// proves the node can run, so the count starts over. Pure: no timers, no Electron.

export interface RestartPolicy {
    /** the delay before the 1st, 2nd, … restart in a run of quick failures; the last one repeats */
    delaysMs: readonly number[];
    /** this many quick failures in a row and the shell stops restarting */
    maxQuickFailures: number;
    /** a node that ran at least this long before it stopped did not fail quickly */
    stableAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = Object.freeze({
    delaysMs: Object.freeze([1000, 2000, 5000, 10_000, 30_000]),
    maxQuickFailures: 5,
    stableAfterMs: 60_000
});

export type RestartDecision =
    | { action: "restart"; delayMs: number; quickFailures: number }
    | { action: "give-up"; quickFailures: number };

/**
 * What to do after the node stopped unexpectedly: `quickFailures` is how many quick failures came
 * right before this one, `ranForMs` how long this run lasted. The decision carries the new count.
 */
export function decideRestart(quickFailures: number, ranForMs: number, policy: RestartPolicy = DEFAULT_RESTART_POLICY): RestartDecision {
    const stable = ranForMs >= policy.stableAfterMs;
    const count = stable ? 1 : Math.max(0, Math.floor(quickFailures)) + 1;
    if (!stable && count >= policy.maxQuickFailures) return { action: "give-up", quickFailures: count };
    return { action: "restart", delayMs: restartDelay(count, policy), quickFailures: count };
}

/** The delay before the restart that follows the `failure`th failure in a row (1-based), capped at the last delay. */
export function restartDelay(failure: number, policy: RestartPolicy = DEFAULT_RESTART_POLICY): number {
    const delays = policy.delaysMs;
    if (delays.length === 0) return 0;
    const i = Math.min(Math.max(1, Math.floor(failure)), delays.length) - 1;
    return delays[i]!;
}

/** "2 s", "30 s", "2 min" */
export function formatDelay(ms: number): string {
    if (ms < 60_000) return `${Math.max(1, Math.round(ms / 1000))} s`;
    return `${Math.round(ms / 60_000)} min`;
}
