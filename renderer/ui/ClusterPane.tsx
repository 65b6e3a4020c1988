// The cluster: invite a machine, leave, and every machine as a card (memory, speed, link, state).
import { useEffect, useRef, useState, type FormEvent } from "react";
import { useShallow } from "zustand/react/shallow";
import type { Peer, PeerState } from "../../app/cluster/cluster-view-types.ts";
import type { InviteView } from "../../app/ui-api/contract.ts";
import { expiryText, formatAgo, formatFigure } from "../lib/format.ts";
import { machineColourIndex } from "../state/selectors.ts";
import { Button, ErrorNote, MemoryBar, Note, PaneHeader, Section } from "./common.tsx";
import { useActions, useNow, useStreams, useUi } from "./hooks.ts";

const STATE_TEXT: Record<PeerState, { label: string; legend: string }> = {
    member: { label: "member", legend: "in the cluster and answering" },
    joining: { label: "joining", legend: "joining through this machine now" },
    discovered: { label: "discovered", legend: "seen on the network, not in this cluster" },
    lost: { label: "lost", legend: "not heard from lately" }
};

const BACKEND_TEXT: Record<string, string> = { cpu: "CPU", metal: "Metal", cuda: "CUDA", vulkan: "Vulkan" };

export function ClusterPane() {
    const actions = useActions();
    const app = useStreams((s) => s.app);
    const peers = useStreams((s) => s.cluster?.peers ?? null);
    const discoveryProblem = useStreams((s) => s.cluster?.discoveryProblem ?? null);
    const invite = useUi((s) => s.invite);
    const inviting = useUi((s) => s.busy.invite === true);
    const inviteError = useUi((s) => s.errors.invite ?? "");
    const [confirmLeave, setConfirmLeave] = useState(false);

    const members = peers?.filter((p) => p.relation === "self" || p.relation === "member") ?? [];
    const others = peers?.filter((p) => !(p.relation === "self" || p.relation === "member")) ?? [];

    return (
        <div className="pane-scroll">
            <PaneHeader
                title="Cluster"
                subtitle={<>{members.length} machine{members.length === 1 ? "" : "s"} in this cluster{app?.address ? <> · this machine at <code>{app.address}</code></> : null}</>}
                actions={<>
                    <Button variant="primary" testId="invite-button" busy={inviting} onClick={() => void actions.invite()}>Invite a machine</Button>
                    <Button variant="quiet" testId="leave-button" onClick={() => setConfirmLeave(true)} aria-haspopup="dialog">Leave…</Button>
                </>}
            />
            {inviteError && <ErrorNote title="No invite code" onDismiss={() => actions.clearError("invite")}>{inviteError}</ErrorNote>}
            {invite && <InvitePanel invite={invite} />}
            {confirmLeave && <LeaveConfirm onClose={() => setConfirmLeave(false)} />}
            {discoveryProblem && <Note kind="warn">Machines cannot find each other on this network by themselves: {discoveryProblem} Add machines by address below.</Note>}

            <StateLegend />

            {peers === null ? (
                <p className="muted">Waiting for the cluster's view…</p>
            ) : (
                <>
                    <div className="machine-grid">
                        {members.map((p) => <MachineCard key={p.nodeId} peer={p} colour={machineColourIndex(peers, p.nodeId)} />)}
                    </div>
                    {others.length > 0 && (
                        <Section title="Other machines on this network" description="Hearth sees them, but they are not in this cluster.">
                            <div className="machine-grid">
                                {others.map((p) => <MachineCard key={p.nodeId} peer={p} colour={machineColourIndex(peers, p.nodeId)} />)}
                            </div>
                        </Section>
                    )}
                </>
            )}
            <AddPeer />
            <ApiSetting />
        </div>
    );
}

/** This machine's OpenAI-compatible API: off by default; on, it shows the address to give an OpenAI client. */
function ApiSetting() {
    const actions = useActions();
    const api = useStreams((s) => s.app?.api ?? null);
    const busy = useUi((s) => s.busy.api === true);
    const error = useUi((s) => s.errors.api ?? "");
    if (api === null) return null;
    return (
        <Section title="OpenAI-compatible API" description="Let editors, chat front-ends and scripts on this computer use the cluster's model, as they would a paid endpoint.">
            <div className="api-setting" data-testid="api-setting">
                <label className="api-toggle">
                    <input type="checkbox" data-testid="api-toggle" checked={api.enabled} disabled={busy} onChange={(e) => void actions.setApi(e.currentTarget.checked)} />
                    <span>Serve it on this machine (127.0.0.1 only)</span>
                </label>
                {api.url != null && <p data-testid="api-url">Base URL for an OpenAI client: <code>{api.url}</code> (any API key will do)</p>}
                {api.enabled && api.url == null && api.error === "" && <p className="muted">Starts once this machine's node runs.</p>}
                {api.error !== "" && <ErrorNote title="The API is not serving">{api.error}</ErrorNote>}
                {error && <ErrorNote onDismiss={() => actions.clearError("api")}>{error}</ErrorNote>}
            </div>
        </Section>
    );
}

function StateLegend() {
    return (
        <dl className="legend" aria-label="Machine states">
            {(Object.keys(STATE_TEXT) as PeerState[]).map((state) => (
                <div key={state} className="legend-item">
                    <dt><span className={`badge badge-${state}`}>{STATE_TEXT[state].label}</span></dt>
                    <dd>{STATE_TEXT[state].legend}</dd>
                </div>
            ))}
        </dl>
    );
}

function InvitePanel({ invite }: { invite: InviteView }) {
    const actions = useActions();
    const now = useNow(1000);
    const inviting = useUi((s) => s.busy.invite === true);
    const [copied, setCopied] = useState<"" | "done" | "failed">("");
    const expired = invite.expiresAtMs <= now;
    const copy = async () => {
        try {
            await navigator.clipboard.writeText(invite.code);
            setCopied("done");
        } catch {
            setCopied("failed");
        }
    };
    return (
        <section className="card invite" aria-labelledby="invite-title">
            <div className="invite-main">
                <h2 id="invite-title">Invite a machine</h2>
                <p>On the new machine, open Hearth, choose <em>Join cluster</em> and type this code:</p>
                <div className={`invite-code${expired ? " is-expired" : ""}`} data-testid="invite-code" aria-label={`Join code ${invite.code.split("").join(" ")}`}>{invite.code}</div>
                <p className={`invite-expiry${expired ? " is-expired" : ""}`} data-testid="invite-expiry" aria-live="off">
                    {expired ? "This code has expired — make a new one." : `Valid for one machine; ${expiryText(invite.expiresAtMs, now)}.`}
                </p>
                {invite.joinAddress && (
                    <p className="hint">If it cannot find this cluster by itself, enter <code>{invite.joinAddress}</code> as the member address too.</p>
                )}
            </div>
            <div className="invite-actions">
                {!expired && <Button onClick={() => void copy()}>{copied === "done" ? "Copied" : "Copy code"}</Button>}
                <Button variant={expired ? "primary" : "secondary"} busy={inviting} onClick={() => void actions.invite()}>New code</Button>
                <Button variant="quiet" onClick={() => actions.dismissInvite()}>Done</Button>
                {copied === "failed" && <span className="hint">Copying is not allowed here; type the code instead.</span>}
            </div>
        </section>
    );
}

function LeaveConfirm({ onClose }: { onClose: () => void }) {
    const actions = useActions();
    const leaving = useUi((s) => s.busy.leave === true);
    const error = useUi((s) => s.errors.leave ?? "");
    const cancelRef = useRef<HTMLButtonElement>(null);
    useEffect(() => {
        cancelRef.current?.focus();
        const onKey = (e: KeyboardEvent) => { if (e.key === "Escape") onClose(); };
        window.addEventListener("keydown", onKey);
        return () => window.removeEventListener("keydown", onKey);
    }, [onClose]);
    return (
        <div className="confirm card" role="alertdialog" aria-modal="false" aria-labelledby="leave-title" aria-describedby="leave-desc">
            <h2 id="leave-title">Leave this cluster?</h2>
            <p id="leave-desc">This machine forgets the cluster and goes back to setup. The other members keep running; to come back, join again with a new code.</p>
            {error && <ErrorNote>{error}</ErrorNote>}
            <div className="card-actions">
                <Button variant="danger" testId="leave-confirm" busy={leaving} onClick={() => void actions.leave().then((ok) => { if (ok) onClose(); })}>Leave cluster</Button>
                <button ref={cancelRef} type="button" className="btn btn-secondary" onClick={onClose} disabled={leaving}><span>Cancel</span></button>
            </div>
        </div>
    );
}

function MachineCard({ peer, colour }: { peer: Peer; colour: number }) {
    const inv = peer.inventory;
    const isSelf = peer.relation === "self";
    const inCluster = isSelf || peer.relation === "member";
    const now = useNow(30_000, peer.state === "lost");
    return (
        <article className={`card machine machine-${peer.state} m${colour}`} data-testid="machine-card" data-name={peer.name} data-state={peer.state} aria-label={`${peer.name}, ${peer.state}`}>
            <header className="machine-head">
                <span className={`swatch m${colour}`} aria-hidden="true" />
                <h3 className="machine-name" title={peer.nodeId}>{peer.name}</h3>
                {isSelf && <span className="tag">this machine</span>}
                <span className={`badge badge-${peer.state}`} title={STATE_TEXT[peer.state].legend}>{STATE_TEXT[peer.state].label}</span>
            </header>
            <div className="machine-sub">
                {inv ? (
                    <>
                        <span className={`backend backend-${inv.backend}`}>{BACKEND_TEXT[inv.backend] ?? inv.backend}</span>
                        <span title={inv.distro}>{inv.os}</span>
                        {inv.cpu.model && <span title={`${inv.cpu.cores} cores, ${inv.cpu.threads} threads`}>{inv.cpu.model}</span>}
                    </>
                ) : (
                    <span className="muted">{peer.state === "lost" ? "no inventory (not answering)" : "inventory not received yet"}</span>
                )}
            </div>

            {inv && (
                <div className="machine-memory">
                    {inv.unified ? (
                        <MemoryBar testId="ram-bar" label="Unified memory (RAM and GPU)" usedBytes={inv.ramTotalBytes - inv.ramFreeBytes} totalBytes={inv.ramTotalBytes} detail={inv.gpus.length > 0 ? inv.gpus.join(", ") : undefined} />
                    ) : (
                        <>
                            <MemoryBar testId="ram-bar" label="RAM" usedBytes={inv.ramTotalBytes - inv.ramFreeBytes} totalBytes={inv.ramTotalBytes} />
                            {inv.vramTotalBytes > 0 ? (
                                <MemoryBar testId="vram-bar" label="GPU memory" usedBytes={inv.vramTotalBytes - inv.vramFreeBytes} totalBytes={inv.vramTotalBytes} detail={inv.gpus.join(", ") || undefined} />
                            ) : (
                                <p className="machine-nogpu">No GPU memory: layers run on the CPU.</p>
                            )}
                        </>
                    )}
                </div>
            )}

            <dl className="machine-facts">
                <div><dt>Speed</dt><dd>{speedText(peer)}</dd></div>
                <div><dt>Link</dt><dd>{isSelf ? "this machine" : linkText(peer)}</dd></div>
                <div><dt>Address</dt><dd>{peer.address ? <code>{peer.address}</code> : "unknown"}</dd></div>
            </dl>

            {!inCluster && (
                <p className="machine-hint">
                    {peer.relation === "other-cluster" ? "It is in another cluster. To bring it here, leave that cluster on it first; then " : "To admit it: "}
                    run <strong>Invite</strong> here and enter the code on that machine.
                </p>
            )}
            {inCluster && peer.state === "discovered" && !isSelf && (
                <p className="machine-hint">It announces this cluster but is not in this machine's member list yet.</p>
            )}
            {peer.state === "joining" && <p className="machine-hint">Joining with a code — it becomes a member in a moment.</p>}
            {peer.state === "lost" && (
                <p className="machine-hint">
                    {peer.lastSeenMs !== null ? `Last heard from ${formatAgo(peer.lastSeenMs, now)}. ` : ""}Is it switched on, with Hearth running, on this network?
                </p>
            )}
            {peer.relation === "member" && !isSelf && <RemoveMember peer={peer} />}
        </article>
    );
}

function RemoveMember({ peer }: { peer: Peer }) {
    const actions = useActions();
    const removing = useUi((s) => s.busy.remove === true);
    const [confirm, setConfirm] = useState(false);
    const [error, setError] = useState("");
    if (!confirm) {
        return <div className="machine-foot"><button type="button" className="link-button" onClick={() => setConfirm(true)}>Remove from cluster…</button></div>;
    }
    return (
        <div className="machine-foot confirm-inline" role="group" aria-label={`Remove ${peer.name}`}>
            <span>Remove {peer.name}? It can join again with a new code.</span>
            <Button variant="danger" className="btn-small" busy={removing} onClick={() => void actions.removeMember(peer.nodeId).then((ok) => {
                if (!ok) setError("It could not be removed; try again.");
                else setConfirm(false);
            })}>Remove</Button>
            <Button className="btn-small" onClick={() => setConfirm(false)}>Cancel</Button>
            {error && <span className="error-text">{error}</span>}
        </div>
    );
}

function speedText(peer: Peer): string {
    const speed = peer.inventory?.speed;
    if (speed === undefined) return "unknown";
    switch (speed.status) {
        case "off": return "not measured";
        case "measuring": return "measuring…";
        case "failed": return `could not be measured${speed.error ? `: ${speed.error}` : ""}`;
        case "ready":
            return speed.decodeMsPerLayer === null ? "—" : `${formatFigure(speed.decodeMsPerLayer)} ms/layer${speed.gpu === true ? " on the GPU" : speed.gpu === false ? " on the CPU" : ""}`;
        default: return "unknown";
    }
}

function linkText(peer: Peer): string {
    const link = peer.link;
    if (link === null) return peer.state === "member" ? "measuring…" : "—";
    const latency = `${formatFigure(link.latencyMs)} ms latency`;
    return link.bandwidthMBs === null ? latency : `${latency}, ${formatFigure(link.bandwidthMBs)} MB/s`;
}

function AddPeer() {
    const actions = useActions();
    const busy = useUi((s) => s.busy.addPeer === true);
    const error = useUi((s) => s.errors.addPeer ?? "");
    const [address, setAddress] = useState("");
    const [added, setAdded] = useState("");
    const submit = (e: FormEvent) => {
        e.preventDefault();
        void actions.addPeer(address).then((ok) => {
            if (ok) { setAdded(address.trim()); setAddress(""); }
        });
    };
    const count = useStreams(useShallow((s) => (s.cluster?.peers ?? []).length));
    return (
        <details className="add-peer">
            <summary>A machine does not show up?</summary>
            <form onSubmit={submit} className="inline-form">
                <p className="hint">Some networks block the multicast Hearth uses to find machines. Add one by its address ({count > 1 ? "as another machine's card shows" : "the host:port Hearth prints on it"}).</p>
                <div className="row">
                    <label className="sr-only" htmlFor="add-peer-address">Machine address</label>
                    <input id="add-peer-address" value={address} onChange={(e) => setAddress(e.target.value)} placeholder="192.168.1.20:7420" spellCheck={false} autoComplete="off" />
                    <Button type="submit" busy={busy}>Add machine</Button>
                </div>
                {error && <ErrorNote onDismiss={() => actions.clearError("addPeer")}>{error}</ErrorNote>}
                {added && !error && <p className="hint">Asked {added}; it shows above once it answers.</p>}
            </form>
        </details>
    );
}
