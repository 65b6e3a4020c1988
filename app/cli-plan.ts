// `hearth plan`: where a model would run on a cluster and how fast, before anything is loaded.
// The cluster comes from a file (--simulate cluster.json, format in app/placement/cluster-file.ts)
// or, without one, from the members that answer now (asked through this machine's running node).
// A model that cannot fit throws PlanDoesNotFitError: its message is the human sentence, its
// `json` what --json prints (and `jsonRequested` says whether --json was given).
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { readGgufHeader } from "./gguf/reader.ts";
import { kvString } from "./gguf/format.ts";
import { checkArchitectureSupported } from "./stage/architectures.ts";
import { parseClusterFileText } from "./placement/cluster-file.ts";
import { MODEL_SHAPE_EXAMPLES, modelShapeFromHeader, syntheticModelShape, type ModelShape } from "./placement/model-shape.ts";
import { PlanDoesNotFitError, planOrThrow } from "./placement/no-fit.ts";
import { formatPlanTable } from "./placement/plan-report.ts";
import type { Plan } from "./placement/planner.ts";
import type { Links, Member, PlanOptions } from "./placement/cost-model.ts";
import { requireCluster, requireLocalNode } from "./cli-cluster.ts";
import type { ClusterViewState } from "./cluster/cluster-view.ts";
import { linksBetweenMembers, plannerMember } from "./host/live-plan.ts";
import { defaultDataDir } from "./model/stage-cache.ts";
import { NodeClient, grpcMessage } from "./protocol/node-client.ts";

export const PLAN_HELP = `  hearth plan (--model FILE | --model-shape NAME) [--simulate CLUSTER.json] [--objective latency|throughput]
              [--context N] [--max-sequences N] [--batch-size N] [--activations f32|f16] [--json]
      Plans where a model runs on a cluster (which machines, which layers, how many on each GPU)
      and predicts its speed, or says what is missing. NAME is a model without a file, such as
      ${MODEL_SHAPE_EXAMPLES.join(", ")}. The cluster is the members that answer now, or the
      machines described in a file (--simulate).
`;

/** The members that answer now, as the planner sees them (named by node id; `names` gives what to show). */
/** The members that answer now, as the planner sees them, and the links they measured. */
export interface LiveCluster { members: Member[]; links?: Links; names: Map<string, string> }

/** A mistake in the command line (the wiring prints it with the help, exit 2). */
export class PlanUsageError extends Error {
    constructor(message: string) { super(message); this.name = "PlanUsageError"; }
}

export interface PlanCommandResult {
    plan: Plan;
    json: boolean;
    /** what the command prints */
    output: string;
}

function positiveInt(v: string | undefined, name: string): number | undefined {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new PlanUsageError(`--${name} must be a whole number of at least 1 (got '${v}')`);
    return n;
}

function loadModel(file: string | undefined, shapeName: string | undefined): ModelShape {
    if ((file === undefined) === (shapeName === undefined)) throw new PlanUsageError("plan needs --model FILE or --model-shape NAME (one of them)");
    if (shapeName !== undefined) {
        try {
            return syntheticModelShape(shapeName);
        } catch (e) {
            throw new PlanUsageError((e as Error).message);
        }
    }
    const header = readGgufHeader(file!);
    checkArchitectureSupported(kvString(header, "general.architecture"), file!);
    return modelShapeFromHeader(header, kvString(header, "general.name") ?? path.basename(file!));
}

/** Runs `hearth plan` without printing: the plan and its output, or a thrown error. */
export function runPlan(argv: string[], live?: LiveCluster): PlanCommandResult {
    const { values } = parseArgs({
        args: argv,
        strict: true,
        allowPositionals: false,
        options: {
            model: { type: "string" },
            "model-shape": { type: "string" },
            simulate: { type: "string" },
            objective: { type: "string" },
            context: { type: "string" },
            "context-size": { type: "string" },
            "max-sequences": { type: "string" },
            "batch-size": { type: "string" },
            activations: { type: "string" },
            "data-dir": { type: "string" },
            json: { type: "boolean", default: false }
        }
    });
    const objective = values.objective ?? "latency";
    if (objective !== "latency" && objective !== "throughput") throw new PlanUsageError(`--objective must be latency or throughput (got '${objective}')`);
    if (values.context !== undefined && values["context-size"] !== undefined) throw new PlanUsageError("give --context or --context-size, not both");
    if (values.activations !== undefined && values.activations !== "f32" && values.activations !== "f16") throw new PlanUsageError("--activations must be f32 or f16");
    const options: Partial<PlanOptions> = {
        objective,
        contextSize: positiveInt(values.context ?? values["context-size"], values.context !== undefined ? "context" : "context-size"),
        maxSequences: positiveInt(values["max-sequences"], "max-sequences"),
        batchSize: positiveInt(values["batch-size"], "batch-size"),
        activationBytesPerValue: values.activations === "f16" ? 2 : undefined
    };
    const model = loadModel(values.model, values["model-shape"]);
    if (values.simulate === undefined) {
        if (live == null) throw new Error("planning over the members needs their figures: run 'hearth plan' through a running node (cmdPlan), or pass --simulate cluster.json");
        // The nodes' figures are what their stages may use (their own share for the OS is kept already).
        const named = (text: string) => text.replace(/\b[0-9a-f]{32}\b/g, (id) => live.names.get(id) ?? id);
        let plan: Plan;
        try {
            plan = planOrThrow({ model, members: live.members, links: live.links, options: { ...options, marginFraction: 0, marginMinBytes: 0 } });
        } catch (e) {
            if (e instanceof PlanDoesNotFitError) {
                const renamed = new PlanDoesNotFitError(JSON.parse(named(JSON.stringify(e.json))) as typeof e.json);
                renamed.jsonRequested = values.json;
                throw renamed;
            }
            throw e;
        }
        plan = JSON.parse(named(JSON.stringify(plan))) as Plan;
        return { plan, json: values.json, output: values.json ? JSON.stringify(plan, null, 2) : formatPlanTable(plan) };
    }
    let text: string;
    try {
        text = fs.readFileSync(values.simulate, "utf8");
    } catch (e) {
        throw new Error(`cannot read the cluster file ${values.simulate}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
    }
    const cluster = parseClusterFileText(text, values.simulate);
    let plan: Plan;
    try {
        plan = planOrThrow({ model, members: cluster.members, links: cluster.links, options });
    } catch (e) {
        if (e instanceof PlanDoesNotFitError) e.jsonRequested = values.json;
        throw e;
    }
    return { plan, json: values.json, output: values.json ? JSON.stringify(plan, null, 2) : formatPlanTable(plan) };
}

/** `hearth plan ARGS`: prints the plan (a table, or JSON with --json). */
export async function cmdPlan(argv: string[]): Promise<void> {
    const live = argv.includes("--simulate") || argv.some((a) => a.startsWith("--simulate=")) ? undefined : await liveCluster(dataDirOf(argv));
    const { output } = runPlan(argv, live);
    process.stdout.write(output + "\n");
}

function dataDirOf(argv: string[]): string {
    const i = argv.indexOf("--data-dir");
    const inline = argv.find((a) => a.startsWith("--data-dir="));
    return i >= 0 && argv[i + 1] != null ? argv[i + 1]! : inline != null ? inline.slice("--data-dir=".length) : defaultDataDir();
}

/** Every member that answers now (this machine's node and the members it lists), with its figures. */
async function liveCluster(dataDir: string): Promise<LiveCluster> {
    const cluster = requireCluster(dataDir);
    const local = requireLocalNode(dataDir, cluster, "or plan over machines described in a file with --simulate");
    let view: ClusterViewState;
    try {
        view = await local.getPeers() as ClusterViewState;
    } catch (e) {
        throw new Error(grpcMessage(e));
    } finally {
        local.close();
    }
    // Every member with an address is asked (one the view shows lost may have just started); those that answer count.
    const targets = view.peers.filter((p) => (p.relation === "self" || p.relation === "member") && p.address != null);
    const answers = await Promise.all(targets.map(async (p) => {
        const client = new NodeClient(p.address!, { cluster, expectedNodeId: p.nodeId });
        try {
            return { nodeId: p.nodeId, name: p.name, info: await client.getInfo(5000) };
        } catch {
            return null; // not answering now: not in the plan
        } finally {
            client.close();
        }
    }));
    const members = answers.filter((a) => a != null);
    if (members.length === 0) throw new Error("no member answers now: start 'hearth node' on the machines, or plan with --simulate");
    const live = members.map((m) => ({ nodeId: m.nodeId, name: m.name, address: "", info: { ...m.info, totalMemoryBytes: Number(m.info.totalMemoryBytes), freeMemoryBytes: Number(m.info.freeMemoryBytes) } }));
    return {
        members: live.map(plannerMember),
        links: linksBetweenMembers(live),
        names: new Map(members.map((m) => [m.nodeId, m.name]))
    };
}
