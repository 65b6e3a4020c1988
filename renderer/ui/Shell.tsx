// The running app: a sidebar (the panes, and the cluster's state at a glance) beside the pane shown.
import { useEffect } from "react";
import { useShallow } from "zustand/react/shallow";
import { formatTokensPerSecond, progressFraction } from "../lib/format.ts";
import { clusterGlance, hostedModel } from "../state/selectors.ts";
import type { Pane } from "../state/ui-store.ts";
import { ChatPane } from "./ChatPane.tsx";
import { ClusterPane } from "./ClusterPane.tsx";
import { ProgressBar } from "./common.tsx";
import { useActions, useStreams, useUi } from "./hooks.ts";
import { ModelPane } from "./ModelPane.tsx";
import { PlacementPane } from "./PlacementPane.tsx";

const PANES: { pane: Pane; label: string; key: string }[] = [
    { pane: "chat", label: "Chat", key: "1" },
    { pane: "cluster", label: "Cluster", key: "2" },
    { pane: "model", label: "Model", key: "3" },
    { pane: "placement", label: "Placement", key: "4" }
];

export function Shell() {
    const pane = useUi((s) => s.pane);
    const actions = useActions();

    // Ctrl/Cmd+1…4 switch panes.
    useEffect(() => {
        const onKey = (e: KeyboardEvent) => {
            if (!(e.ctrlKey || e.metaKey) || e.altKey || e.shiftKey) return;
            const target = PANES.find((p) => p.key === e.key);
            if (target === undefined) return;
            e.preventDefault();
            actions.navigate(target.pane);
        };
        window.addEventListener("keydown", onKey);
        return () => window.removeEventListener("keydown", onKey);
    }, [actions]);

    return (
        <div className="shell">
            <Sidebar />
            <main className={`pane pane-${pane}`} id="pane" aria-label={PANES.find((p) => p.pane === pane)?.label}>
                {pane === "chat" && <ChatPane />}
                {pane === "cluster" && <ClusterPane />}
                {pane === "model" && <ModelPane />}
                {pane === "placement" && <PlacementPane />}
            </main>
        </div>
    );
}

function Sidebar() {
    const pane = useUi((s) => s.pane);
    const actions = useActions();
    const app = useStreams((s) => s.app);
    const glance = useStreams(useShallow(clusterGlance));
    const model = useStreams((s) => hostedModel(s));
    const loading = useStreams((s) => s.model?.loading ?? null);
    const modelError = useStreams((s) => s.model?.error ?? "");
    const downloads = useStreams(useShallow((s) => (s.downloads ?? []).filter((d) => d.state === "downloading")));

    const clusterLine = glance.machines === 0 ? "no machines yet"
        : [`${glance.members} member${glance.members === 1 ? "" : "s"}`, glance.lost > 0 ? `${glance.lost} lost` : "", glance.others > 0 ? `${glance.others} nearby` : ""].filter((t) => t !== "").join(" · ");
    const modelLine = model !== null ? `${model.name}` : loading !== null ? "loading…" : "no model";
    const modelState = model?.state ?? (loading !== null ? "loading" : modelError ? "failed" : "none");

    const sub: Record<Pane, { text: string; state?: string }> = {
        chat: { text: model?.state === "ready" || model?.state === "replanning" ? "ready" : "needs a model" },
        cluster: { text: clusterLine },
        model: { text: modelLine, state: modelState },
        placement: {
            text: model === null ? "—" : model.state === "failed" ? "cannot place" : model.proposed ? "new plan proposed" : model.plan.stages.length > 0 ? `${model.plan.stages.length} stage${model.plan.stages.length === 1 ? "" : "s"} · ${formatTokensPerSecond(model.plan.predictedTokensPerSecond)}` : model.state
        }
    };

    return (
        <nav className="sidebar" aria-label="Hearth">
            <div className="brand"><span className="brand-mark" aria-hidden="true" />Hearth</div>
            <div className="sidebar-machine">
                <div className="sidebar-machine-name" title="This machine">{app?.nodeName || "this machine"}</div>
                {app?.address && <div className="sidebar-machine-addr">{app.address}</div>}
            </div>
            <ul className="nav">
                {PANES.map((p) => (
                    <li key={p.pane}>
                        <button
                            type="button"
                            className={`nav-item${pane === p.pane ? " is-active" : ""}`}
                            data-testid={`nav-${p.pane}`}
                            aria-current={pane === p.pane ? "page" : undefined}
                            onClick={() => actions.navigate(p.pane)}
                            title={`${p.label} (Ctrl+${p.key})`}
                        >
                            <span className="nav-label">{p.label}</span>
                            <span className="nav-sub">
                                {sub[p.pane].state && <span className={`dot dot-${sub[p.pane].state}`} aria-hidden="true" />}
                                <span className="nav-sub-text">{sub[p.pane].text}</span>
                            </span>
                        </button>
                    </li>
                ))}
            </ul>
            <div className="sidebar-glance" aria-label="At a glance">
                <div className="glance-row"><span>Machines</span><strong data-testid="glance-machines" title={`${glance.members} answering, ${glance.lost} lost`}>{glance.members + glance.lost}</strong></div>
                <div className="glance-row"><span>Model</span><strong className="glance-model" title={model?.name}>{model ? model.state : loading !== null ? "loading" : modelError ? "failed" : "none"}</strong></div>
                {loading !== null && (
                    <div className="glance-progress">
                        <span className="glance-caption">{loading.phase}</span>
                        <ProgressBar fraction={progressFraction(loading.bytesDone, loading.bytesTotal)} label="Model loading" />
                    </div>
                )}
                {downloads.map((d) => (
                    <div className="glance-progress" key={d.id}>
                        <span className="glance-caption" title={d.fileName}>↓ {d.fileName}</span>
                        <ProgressBar fraction={progressFraction(d.bytesDone, d.bytesTotal)} label={`Downloading ${d.fileName}`} />
                    </div>
                ))}
            </div>
            <div className="sidebar-foot">Hearth {app?.version ?? ""}</div>
        </nav>
    );
}
