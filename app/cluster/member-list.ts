// The cluster's members as this node knows them, with revocation: a revoked node id is refused
// even though its certificate is still signed by the cluster CA.
import fs from "node:fs";
import { writeFileAtomicSync } from "../util/atomic-file.ts";
import { ClusterFileError } from "./errors.ts";
import { isNodeId } from "./identity.ts";

export interface Member {
    nodeId: string;
    name: string;
}

export interface MemberListOptions {
    /** The file the list is kept in, rewritten atomically on every change. Defaults to none (kept in memory only). */
    file?: string;
}

const FORMAT = "hearth-members-1";

export class MemberList {
    private readonly members = new Map<string, Member>();
    private readonly revoked = new Set<string>();

    constructor(members: readonly Member[] = [], private readonly options: MemberListOptions = {}) {
        for (const m of members) this.members.set(m.nodeId, { nodeId: m.nodeId, name: m.name });
    }

    /** The list kept in `file`, or an empty one kept there when the file does not exist yet. */
    static load(file: string): MemberList {
        if (!fs.existsSync(file)) return new MemberList([], { file });
        let record: { format?: unknown; members?: unknown; revoked?: unknown };
        try {
            record = JSON.parse(fs.readFileSync(file, "utf8"));
        } catch (e) {
            throw new ClusterFileError(`${file} is not a member list (${(e as Error).message}); restore it from a backup, or delete it and invite the machines again`);
        }
        const members = record?.members, revoked = record?.revoked;
        if (record?.format !== FORMAT || !Array.isArray(members) || !Array.isArray(revoked) ||
            !members.every((m) => typeof m?.nodeId === "string" && isNodeId(m.nodeId) && typeof m.name === "string") ||
            !revoked.every((id) => typeof id === "string" && isNodeId(id)))
            throw new ClusterFileError(`${file} is not a ${FORMAT} member list; restore it from a backup, or delete it and invite the machines again`);
        const list = new MemberList(members as Member[], { file });
        for (const id of revoked as string[]) list.revoked.add(id);
        return list;
    }

    /** Adds (or renames) a member; a revoked node id that joins again with a new code is a member again. */
    add(member: Member): void {
        if (!isNodeId(member.nodeId)) throw new Error(`'${member.nodeId}' is not a node id`);
        this.members.set(member.nodeId, { nodeId: member.nodeId, name: member.name });
        this.revoked.delete(member.nodeId);
        this.save();
    }

    /** Removes a member for good: its calls are refused from now on. */
    revoke(nodeId: string): void {
        this.members.delete(nodeId);
        this.revoked.add(nodeId);
        this.save();
    }

    isMember(nodeId: string | null): boolean { return nodeId != null && this.members.has(nodeId) && !this.revoked.has(nodeId); }
    isRevoked(nodeId: string): boolean { return this.revoked.has(nodeId); }
    get(nodeId: string): Member | undefined { return this.members.get(nodeId); }
    list(): Member[] { return [...this.members.values()]; }

    private save(): void {
        if (this.options.file == null) return;
        writeFileAtomicSync(this.options.file, JSON.stringify({ format: FORMAT, members: this.list(), revoked: [...this.revoked] }, null, 2) + "\n", 0o600);
    }
}
