// The cluster's members as this node knows them, with removals: a removed node id is refused
// even though its certificate is still signed by the cluster CA. Members exchange their lists
// (SyncMembers) and merge them entry by entry: the entry changed last wins, a removal wins a tie,
// so every member ends with the same list whatever order the changes reach it in.
import fs from "node:fs";
import { writeFileAtomicSync } from "../util/atomic-file.ts";
import { ClusterFileError } from "./errors.ts";
import { isNodeId } from "./identity.ts";

export interface Member {
    nodeId: string;
    name: string;
}

/** One node of the list, current or removed. */
export interface MemberEntry extends Member {
    /** host:port where it was last reachable; null when unknown */
    address: string | null;
    removed: boolean;
    /** when this entry last changed (Date.now() of the node that changed it) */
    changedAtMs: number;
}

export interface MemberListOptions {
    /** The file the list is kept in, rewritten atomically on every change. Defaults to none (kept in memory only). */
    file?: string;
    /** The clock, in milliseconds. Defaults to Date.now. */
    now?: () => number;
}

const FORMAT = "hearth-members-2";
const MAX_NAME = 64;
const MAX_ADDRESS = 300;
/** The most entries a list holds (a peer cannot make this node keep an unbounded list). */
export const MAX_MEMBER_ENTRIES = 1024;

/** Whether `incoming` replaces `current` in a merge: pure. */
export function entryWins(incoming: MemberEntry, current: MemberEntry | undefined): boolean {
    if (current == null) return true;
    if (incoming.changedAtMs !== current.changedAtMs) return incoming.changedAtMs > current.changedAtMs;
    if (incoming.removed !== current.removed) return incoming.removed;
    return incoming.name !== current.name || incoming.address !== current.address ? incoming.name + (incoming.address ?? "") > current.name + (current.address ?? "") : false;
}

/** What is wrong with an entry from a file or a peer, or null: pure. */
export function memberEntryProblem(entry: MemberEntry): string | null {
    if (entry == null || typeof entry !== "object") return "an entry is not an object";
    if (typeof entry.nodeId !== "string" || !isNodeId(entry.nodeId)) return "a node id is not 32 hexadecimal characters";
    if (typeof entry.name !== "string" || entry.name.length > MAX_NAME || /[\u0000-\u001f\u007f]/.test(entry.name)) return "a name is too long or has control characters";
    if (entry.address != null && (typeof entry.address !== "string" || entry.address.length > MAX_ADDRESS)) return "an address is too long";
    if (typeof entry.removed !== "boolean") return "an entry says neither member nor removed";
    if (typeof entry.changedAtMs !== "number" || !Number.isFinite(entry.changedAtMs) || entry.changedAtMs < 0) return "a change time is not a time";
    return null;
}

export class MemberList {
    private readonly entriesById = new Map<string, MemberEntry>();
    private readonly listeners = new Set<() => void>();
    private readonly now: () => number;

    constructor(members: readonly Member[] = [], private readonly options: MemberListOptions = {}) {
        this.now = options.now ?? Date.now;
        for (const m of members) this.entriesById.set(m.nodeId, { nodeId: m.nodeId, name: m.name, address: null, removed: false, changedAtMs: this.now() });
    }

    /** The list kept in `file`, or an empty one kept there when the file does not exist yet. */
    static load(file: string, options: Omit<MemberListOptions, "file"> = {}): MemberList {
        const list = new MemberList([], { ...options, file });
        if (!fs.existsSync(file)) return list;
        const refuse = (why: string): never => {
            throw new ClusterFileError(`${file} is not a member list (${why}); restore it from a backup, or delete it and join the cluster again`);
        };
        let record: { format?: unknown; entries?: unknown };
        try {
            record = JSON.parse(fs.readFileSync(file, "utf8"));
        } catch (e) {
            return refuse((e as Error).message);
        }
        if (record?.format !== FORMAT || !Array.isArray(record.entries)) return refuse(`its format is not ${FORMAT}`);
        for (const entry of record.entries as MemberEntry[]) {
            const problem = memberEntryProblem(entry);
            if (problem != null) return refuse(problem);
            list.entriesById.set(entry.nodeId, { ...entry, address: entry.address ?? null });
        }
        return list;
    }

    /** Adds (or renames) a member; a removed node id that joins again with a new code is a member again. */
    add(member: Member & { address?: string | null }): void {
        if (!isNodeId(member.nodeId)) throw new Error(`'${member.nodeId}' is not a node id`);
        const old = this.entriesById.get(member.nodeId);
        this.put({ nodeId: member.nodeId, name: member.name, address: member.address ?? old?.address ?? null, removed: false, changedAtMs: this.stamp(old) });
    }

    /** Removes a member for good: its calls are refused from now on. */
    revoke(nodeId: string): void {
        const old = this.entriesById.get(nodeId);
        if (old?.removed === true) return;
        this.put({ nodeId, name: old?.name ?? "", address: old?.address ?? null, removed: true, changedAtMs: this.stamp(old) });
    }

    /** Records where a member is reachable now (a member's own address is the one thing it says about itself). */
    setAddress(nodeId: string, address: string): void {
        const old = this.entriesById.get(nodeId);
        if (old == null || old.removed || old.address === address) return;
        this.put({ ...old, address, changedAtMs: this.stamp(old) });
    }

    /**
     * Merges entries from another member's list; entries that are not valid are refused all
     * together (the list is left as it was). Returns whether anything changed.
     */
    merge(entries: readonly MemberEntry[]): boolean {
        if (entries.length > MAX_MEMBER_ENTRIES) throw new Error(`a member list of ${entries.length} entries is more than the ${MAX_MEMBER_ENTRIES} accepted`);
        for (const e of entries) {
            const problem = memberEntryProblem(e);
            if (problem != null) throw new Error(`the member list is not valid: ${problem}`);
        }
        let changed = false;
        for (const e of entries) {
            const current = this.entriesById.get(e.nodeId);
            if (!entryWins(e, current)) continue;
            if (current == null && this.entriesById.size >= MAX_MEMBER_ENTRIES) continue;
            this.entriesById.set(e.nodeId, { nodeId: e.nodeId, name: e.name, address: e.address || null, removed: e.removed, changedAtMs: e.changedAtMs });
            changed = true;
        }
        if (changed) this.changed();
        return changed;
    }

    isMember(nodeId: string | null): boolean { return nodeId != null && this.entriesById.get(nodeId)?.removed === false; }
    isRevoked(nodeId: string): boolean { return this.entriesById.get(nodeId)?.removed === true; }
    get(nodeId: string): MemberEntry | undefined { return this.entriesById.get(nodeId); }
    /** The current members. */
    list(): MemberEntry[] { return [...this.entriesById.values()].filter((e) => !e.removed); }
    /** Every entry, removed ones included (what SyncMembers sends). */
    entries(): MemberEntry[] { return [...this.entriesById.values()]; }

    /** Calls `listener` after every change; returns the function that stops it. */
    onChange(listener: () => void): () => void {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
    }

    /** A change time later than the entry's last one, even when clocks differ between machines. */
    private stamp(old: MemberEntry | undefined): number { return Math.max(this.now(), (old?.changedAtMs ?? 0) + 1); }

    private put(entry: MemberEntry): void {
        this.entriesById.set(entry.nodeId, entry);
        this.changed();
    }

    private changed(): void {
        if (this.options.file != null)
            writeFileAtomicSync(this.options.file, JSON.stringify({ format: FORMAT, entries: this.entries() }, null, 2) + "\n", 0o600);
        for (const listener of this.listeners) listener();
    }
}
