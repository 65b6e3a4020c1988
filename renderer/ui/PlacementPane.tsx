// Where the model's layers are: one bar coloured by machine (a segment per stage), each stage's
// GPU/CPU share and memory, the predicted speed; why it cannot be placed, and the plan proposed
// when machines come or go.
import type { ClusterModelPlan, ClusterModelStage, Peer } from "../../app/cluster/cluster-view-types.ts";
import { asSentence, formatBytes, formatFigure, formatLayerRange, formatTokensPerSecond, formatUsedOfTotal, layersAttribute } from "../lib/format.ts";
import { hostedModel, machineColourIndex } from "../state/selectors.ts";
import { Button, ErrorNote, PaneHeader, Section } from "./common.tsx";
import { useActions, useStreams } from "./hooks.ts";

export function PlacementPane() {
    const actions = useActions();
    const model = useStreams(hostedModel);
    const peers = useStreams((s) => s.cluster?.peers);
    const modelError = useStreams((s) => s.model?.error ?? "");
    const loading = useStreams((s) => s.model?.loading ?? null);

    // The planner's reason: the hosted model's while it failed; with none hosted, why the last load failed.
    // (A model placed again clears it, whatever the last load said.)
    const failure = model === null ? modelError
        : model.state === "failed" ? (model.message || modelError || "The planner found no way to place this model on the machines that answer now.") : "";

    return (
        <div className="pane-scroll">
            <PaneHeader
                title="Placement"
                subtitle={model ? <>{model.name} · hosted by {model.hostName} · plan {model.planVersion}</> : "How the model's layers are spread over the machines."}
            />
            {failure && (
                <ErrorNote testId="placement-error" title="The model cannot be placed">
                    <p className="pre-line">{failure}</p>
                    <p className="fix-title">What can fix it:</p>
                    <ul className="fix-list">
                        <li>Add a machine: <button type="button" className="link-button" onClick={() => actions.navigate("cluster")}>Cluster → Invite</button>.</li>
                        <li>Free memory on the machines (close large programs), then open the model again.</li>
                        <li>Choose a smaller model or quantization (a Q4_K_M file needs about a third of the memory of F16): <button type="button" className="link-button" onClick={() => actions.navigate("model")}>Model</button>.</li>
                    </ul>
                </ErrorNote>
            )}
            {model === null && !failure && (
                <div className="empty">
                    <p>{loading ? `Placing the model… ${loading.message}` : "No model is placed yet."}</p>
                    {!loading && <Button variant="primary" onClick={() => actions.navigate("model")}>Open a model</Button>}
                </div>
            )}
            {model !== null && model.plan.stages.length > 0 && (
                <Section title={model.state === "replanning" ? "Plan in force (replanning…)" : "Plan in force"} id="plan">
                    <PlanView plan={model.plan} peers={peers} main />
                </Section>
            )}
            {model !== null && model.plan.stages.length === 0 && !failure && (
                <p className="muted">{model.state === "loading" ? "The model is loading; its plan shows here once it is placed." : "This plan has no stages."}</p>
            )}
            {model?.proposed && (
                <section className="card proposed" data-testid="proposed-plan" aria-labelledby="proposed-title">
                    <h2 id="proposed-title">Proposed plan</h2>
                    <p className="proposed-reason">{asSentence(model.proposed.reason || "The machines changed")} It takes over when the chats in progress end.</p>
                    <PlanView plan={model.proposed} peers={peers} main={false} />
                </section>
            )}
        </div>
    );
}

function PlanView({ plan, peers, main }: { plan: ClusterModelPlan; peers: Peer[] | undefined; main: boolean }) {
    const total = plan.stages.reduce((n, s) => n + Math.max(0, s.layers[1] - s.layers[0]), 0);
    const layerEnd = plan.stages.reduce((n, s) => Math.max(n, s.layers[1]), 0);
    return (
        <div className="plan">
            <div className="plan-summary">
                <span className="plan-tps" data-testid={main ? "predicted-tps" : undefined}>
                    {plan.predictedTokensPerSecond === null ? "Speed not predicted" : <>Predicted <strong>{formatTokensPerSecond(plan.predictedTokensPerSecond)}</strong> for one chat</>}
                </span>
                <span className="muted">{layerEnd} layers over {plan.stages.length} machine{plan.stages.length === 1 ? "" : "s"}</span>
            </div>
            <div className="placement-bar" data-testid={main ? "placement-bar" : "proposed-bar"} role="img" aria-label={plan.stages.map((s) => `${s.name} ${formatLayerRange(s.layers)}`).join("; ")}>
                {plan.stages.map((stage, i) => {
                    const layers = Math.max(0, stage.layers[1] - stage.layers[0]);
                    return (
                        <div
                            key={`${stage.nodeId}-${i}`}
                            className={`placement-segment m${machineColourIndex(peers, stage.nodeId)}`}
                            data-testid={main ? "placement-segment" : "proposed-segment"}
                            data-name={stage.name}
                            data-layers={layersAttribute(stage.layers)}
                            style={{ flexGrow: total > 0 ? layers : 1 }}
                            title={`${stage.name}: ${formatLayerRange(stage.layers)} (${layers} layers)`}
                        >
                            <span className="segment-name">{stage.name}</span>
                            <span className="segment-layers">{formatLayerRange(stage.layers)}</span>
                        </div>
                    );
                })}
            </div>
            <table className="stages">
                <thead>
                    <tr><th scope="col">Machine</th><th scope="col">Layers</th><th scope="col">GPU / CPU</th><th scope="col">Memory for its layers</th><th scope="col">Machine's memory</th><th scope="col">Time per token</th></tr>
                </thead>
                <tbody>
                    {plan.stages.map((stage, i) => <StageRow key={`${stage.nodeId}-${i}`} stage={stage} peer={peers?.find((p) => p.nodeId === stage.nodeId)} colour={machineColourIndex(peers, stage.nodeId)} />)}
                </tbody>
            </table>
        </div>
    );
}

function StageRow({ stage, peer, colour }: { stage: ClusterModelStage; peer: Peer | undefined; colour: number }) {
    const layers = Math.max(0, stage.layers[1] - stage.layers[0]);
    const onGpu = Math.min(layers, Math.max(0, stage.gpuLayers));
    const gpuShare = layers > 0 ? onGpu / layers : 0;
    const inv = peer?.inventory ?? null;
    const memory = inv === null ? "unknown"
        : inv.unified ? `${formatUsedOfTotal(inv.ramTotalBytes - inv.ramFreeBytes, inv.ramTotalBytes)} unified used`
        : `RAM ${formatUsedOfTotal(inv.ramTotalBytes - inv.ramFreeBytes, inv.ramTotalBytes)}${inv.vramTotalBytes > 0 ? ` · GPU ${formatUsedOfTotal(inv.vramTotalBytes - inv.vramFreeBytes, inv.vramTotalBytes)}` : ""}`;
    return (
        <tr>
            <th scope="row"><span className={`swatch m${colour}`} aria-hidden="true" /> {stage.name}{peer?.state === "lost" && <span className="badge badge-lost">lost</span>}</th>
            <td>{formatLayerRange(stage.layers)} <span className="muted">({layers})</span></td>
            <td>
                <div className="share" aria-label={`${onGpu} of ${layers} layers on the GPU`}>
                    <div className="share-track"><div className="share-gpu" style={{ width: `${(gpuShare * 100).toFixed(1)}%` }} /></div>
                    <span>{gpuText(stage)}</span>
                </div>
            </td>
            <td>{formatBytes(stage.memoryBytes)}</td>
            <td className="muted">{memory}</td>
            <td>{stage.predictedMsPerToken === null ? "—" : `${formatFigure(stage.predictedMsPerToken)} ms`}</td>
        </tr>
    );
}

/** "CPU", "2 of 3 on GPU", "all on GPU", "all on GPU + head" (as the CLI). */
function gpuText(stage: ClusterModelStage): string {
    const layers = stage.layers[1] - stage.layers[0];
    if (stage.gpuLayers <= 0) return "all on CPU";
    if (stage.gpuLayers < layers) return `${stage.gpuLayers} of ${layers} on GPU`;
    return stage.gpuLayers > layers ? "all on GPU + head" : "all on GPU";
}

