// The inviter's live join codes ("Add a machine"): each valid for a short time and good for one
// join. Used and expired invitations are remembered for a while after, so that a joiner is told
// "already used" or "expired" instead of "wrong code".
import crypto from "node:crypto";
import { JoinRefusedError } from "./errors.ts";
import { formatJoinCode, newJoinCodeSecret } from "./join-code.ts";

export type InviteState = "live" | "used" | "expired";

export interface Invite {
    /** A public handle of the invitation (for listing and cancelling), not the code. */
    readonly id: string;
    readonly createdAt: number;
    readonly expiresAt: number;
    /** When it was used, and by which node; null while unused. */
    readonly usedAt: number | null;
    readonly usedBy: string | null;
    /** When it was cancelled by the user; null unless cancelled. */
    readonly cancelledAt: number | null;
}

export interface CreatedInvite extends Invite {
    /** The join code to show to the user: the only time it is given out. */
    readonly code: string;
}

export interface InviteBookOptions {
    /** How long a code can be used. Defaults to 10 minutes. */
    validityMs?: number;
    /** How long a used or expired invitation is still recognized (for a clear message). Defaults to 1 hour. */
    rememberMs?: number;
    /** The most codes live at once. Defaults to 8. */
    maxLive?: number;
    /** The clock, in milliseconds. Defaults to Date.now. */
    now?: () => number;
}

/** The state of an invitation at `now`: pure. */
export function inviteState(invite: Invite, now: number): InviteState {
    if (invite.usedAt != null) return "used";
    if (invite.cancelledAt != null || now >= invite.expiresAt) return "expired";
    return "live";
}

interface Entry { invite: Invite; secret: Buffer }

export class InviteBook {
    private readonly entries = new Map<string, Entry>();
    private readonly validityMs: number;
    private readonly rememberMs: number;
    private readonly maxLive: number;
    private readonly now: () => number;

    constructor(options: InviteBookOptions = {}) {
        this.validityMs = options.validityMs ?? 10 * 60 * 1000;
        this.rememberMs = options.rememberMs ?? 60 * 60 * 1000;
        this.maxLive = options.maxLive ?? 8;
        this.now = options.now ?? Date.now;
    }

    /** A new invitation with its join code. */
    create(): CreatedInvite {
        this.forgetOld();
        const now = this.now();
        if (this.list().filter((i) => i.state === "live").length >= this.maxLive)
            throw new Error(`${this.maxLive} join codes are already waiting to be used; use or cancel one of them first`);
        const secret = newJoinCodeSecret();
        const invite: Invite = { id: crypto.randomBytes(6).toString("hex"), createdAt: now, expiresAt: now + this.validityMs, usedAt: null, usedBy: null, cancelledAt: null };
        this.entries.set(invite.id, { invite, secret });
        return { ...invite, code: formatJoinCode(secret) };
    }

    /** The invitations still remembered, with their state, oldest first. */
    list(): (Invite & { state: InviteState })[] {
        const now = this.now();
        return [...this.entries.values()].map((e) => ({ ...e.invite, state: inviteState(e.invite, now) }));
    }

    /** Cancels an invitation: its code is refused as expired from now on. */
    expire(id: string): void {
        const entry = this.entries.get(id);
        if (entry == null || inviteState(entry.invite, this.now()) !== "live") return;
        entry.invite = { ...entry.invite, cancelledAt: this.now() };
    }

    /**
     * Finds the invitation whose secret `matches` (every remembered one is tried, so the time
     * taken does not depend on which one matched) and consumes it for `nodeId`. A secret that is
     * no live invitation's throws JoinRefusedError: "wrongCode", "usedCode" or "expiredCode".
     */
    consume(matches: (secret: Buffer) => boolean, nodeId: string): Invite {
        this.forgetOld();
        const now = this.now();
        let found: Entry | null = null;
        for (const entry of this.entries.values()) if (matches(entry.secret) && found == null) found = entry;
        if (found == null)
            throw new JoinRefusedError("wrongCode", "this join code is not one of the codes this machine has given out; " +
                "check the code on the inviting machine and type it again (its letters and digits, in order)");
        const state = inviteState(found.invite, now);
        if (state === "used")
            throw new JoinRefusedError("usedCode", "this join code has already been used (each code adds one machine); " +
                "make a new code on the inviting machine");
        if (state === "expired")
            throw new JoinRefusedError("expiredCode", `this join code has expired (a code can be used for ${Math.round(this.validityMs / 60000)} minutes); ` +
                "make a new code on the inviting machine");
        found.invite = { ...found.invite, usedAt: now, usedBy: nodeId };
        return found.invite;
    }

    private forgetOld(): void {
        const now = this.now();
        for (const [id, entry] of this.entries) {
            const end = entry.invite.usedAt ?? entry.invite.cancelledAt ?? entry.invite.expiresAt;
            if (now >= end + this.rememberMs && inviteState(entry.invite, now) !== "live") {
                entry.secret.fill(0);
                this.entries.delete(id);
            }
        }
    }
}
