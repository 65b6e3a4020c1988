// `hearth plan`: where a model would run on a cluster and how fast, before anything is loaded.
// For now the cluster comes from a file (--simulate cluster.json, format in
// app/placement/cluster-file.ts); planning over the live members of a running node comes later.
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
import type { PlanOptions } from "./placement/cost-model.ts";

export const PLAN_HELP = `  hearth plan (--model FILE | --model-shape NAME) --simulate CLUSTER.json [--objective latency|throughput]
              [--context N] [--max-sequences N] [--batch-size N] [--activations f32|f16] [--json]
      Plans where a model runs on a cluster (which machines, which layers, how many on each GPU)
      and predicts its speed, or says what is missing. NAME is a model without a file, such as
      ${MODEL_SHAPE_EXAMPLES.join(", ")}. The cluster is described in a file for now.
`;

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
export function runPlan(argv: string[]): PlanCommandResult {
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
    if (values.simulate === undefined)
        throw new Error("live planning needs a running node and its members' inventories, which 'hearth plan' cannot read yet; " +
            "describe the machines in a file and pass --simulate cluster.json (the format is at the top of app/placement/cluster-file.ts)");
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
    const { output } = runPlan(argv);
    process.stdout.write(output + "\n");
}
