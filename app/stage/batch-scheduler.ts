// Which waiting steps a stage computes next: a pure function, tested without processes.
//
// Policy:
// - Steps of one sequence run in order: only a sequence's oldest waiting step is eligible.
// - The oldest waiting step always runs next (no sequence starves, a prompt chunk included).
// - A multi-token step (a prompt chunk) runs alone: batched with other sequences, llama.cpp would
//   split it differently and its results would change in the last bits.
// - Single-token steps of other sequences join it when the stage batches exactly, but only
//   sequences whose ids extend a consecutive run with it: llama.cpp computes a batch of
//   non-consecutive sequence ids as separate ubatches anyway (split_equal), which only delays the
//   oldest step.
// - At most `maxGroup` sequences share a batch, so that with several stages in a pipeline the
//   sequences form groups that keep every stage busy, instead of one big batch that leaves all
//   stages but one idle (see groupLimit).

export interface SchedulableStep {
    seqId: number;
    nTokens: number;
}

export interface BatchPolicy {
    /** most tokens in one batch */
    batchSize: number;
    /** whether single-token steps of several sequences in one batch give what each gives alone */
    batchesExactly: boolean;
    /** most sequences in one batch */
    maxGroup: number;
}

/** Sequences per batch that keep `stageCount` stages busy: the live sequences split into one group per stage. */
export function groupLimit(liveSequences: number, stageCount: number): number {
    return Math.max(1, Math.ceil(liveSequences / Math.max(1, stageCount)));
}

/**
 * Picks the next batch from `pending` (oldest first). Returns the chosen steps, oldest first;
 * empty only when nothing waits.
 */
export function pickBatch<T extends SchedulableStep>(pending: readonly T[], policy: BatchPolicy): T[] {
    const head = pending[0];
    if (head == null) return [];
    if (!policy.batchesExactly || head.nTokens !== 1 || policy.maxGroup <= 1 || policy.batchSize <= 1) return [head];
    // Each sequence's oldest waiting step, for single-token steps only.
    const eligible = new Map<number, { step: T; order: number }>();
    const seen = new Set<number>();
    pending.forEach((step, order) => {
        if (seen.has(step.seqId)) return;
        seen.add(step.seqId);
        if (step.nTokens === 1) eligible.set(step.seqId, { step, order });
    });
    const limit = Math.min(policy.maxGroup, policy.batchSize);
    let low = head.seqId;
    let high = head.seqId;
    const chosen = [eligible.get(head.seqId)!];
    while (chosen.length < limit) {
        const below = eligible.get(low - 1);
        const above = eligible.get(high + 1);
        if (below == null && above == null) break;
        // The older of the two neighbours first.
        if (above != null && (below == null || above.order < below.order)) { chosen.push(above); high++; } else { chosen.push(below!); low--; }
    }
    return chosen.sort((a, b) => a.order - b.order).map((c) => c.step);
}
