// The errors of cluster membership: each says what the user can do about it.

/** A file in the data dir (identity, cluster CA, membership) that cannot be used as it is. */
export class ClusterFileError extends Error {
    constructor(message: string) { super(message); this.name = "ClusterFileError"; }
}

/** A join code typed in a form that cannot be a join code (checked before anything is sent). */
export class JoinCodeFormatError extends Error {
    constructor(message: string) { super(message); this.name = "JoinCodeFormatError"; }
}

/** Why an inviter refused a join request. */
export type JoinRefusal = "wrongCode" | "usedCode" | "expiredCode" | "badRequest";

/** The inviter's refusal of a join request; `reason` tells the cases apart. */
export class JoinRefusedError extends Error {
    constructor(readonly reason: JoinRefusal, message: string) { super(message); this.name = "JoinRefusedError"; }
}

/**
 * The joiner's refusal of the inviter's answer: it was not made by the holder of the join code, or
 * its certificates do not fit. Nothing from the answer is trusted or kept.
 */
export class JoinVerificationError extends Error {
    constructor(message: string) { super(message); this.name = "JoinVerificationError"; }
}
