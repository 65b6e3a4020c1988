// This machine is in no cluster yet: make one, or join one with a code a member shows.
import { useState, type FormEvent } from "react";
import { Button, ErrorNote, Note, Spinner } from "./common.tsx";
import { useActions, useStreams, useUi } from "./hooks.ts";

export function SetupScreen() {
    const app = useStreams((s) => s.app);
    const busyCreate = useUi((s) => s.busy.create === true);
    const busyJoin = useUi((s) => s.busy.join === true);
    const createError = useUi((s) => s.errors.create ?? "");
    const joinError = useUi((s) => s.errors.join ?? "");
    const afterFailure = useUi((s) => s.setupAfterFailure);
    const actions = useActions();
    const [name, setName] = useState("");
    const [code, setCode] = useState("");
    const [peer, setPeer] = useState("");
    const busy = busyCreate || busyJoin;

    const create = (e: FormEvent) => {
        e.preventDefault();
        if (!busy) void actions.createCluster(name);
    };
    const join = (e: FormEvent) => {
        e.preventDefault();
        if (!busy) void actions.joinCluster({ code, name, peer });
    };

    return (
        <main className="setup" aria-labelledby="setup-title">
            <div className="setup-inner">
                <div className="brand brand-large"><span className="brand-mark" aria-hidden="true" />Hearth</div>
                <h1 id="setup-title">Set up this machine</h1>
                <p className="setup-lead">
                    Hearth joins the computers in your home into one cluster that runs a language model together.
                    Make a new cluster on this machine, or join one that another machine already runs.
                </p>
                {afterFailure && app?.message && <Note kind="warn">Last attempt: {app.message}</Note>}

                <div className="field setup-name">
                    <label htmlFor="setup-name">This machine's name <span className="optional">optional</span></label>
                    <input
                        id="setup-name"
                        data-testid="setup-name"
                        value={name}
                        onChange={(e) => setName(e.target.value)}
                        placeholder={app?.nodeName || "e.g. living-room-pc"}
                        autoComplete="off"
                        spellCheck={false}
                        disabled={busy}
                    />
                    <p className="hint">How the other machines list it. Leave empty to use {app?.nodeName ? <strong className="nowrap">{app.nodeName}</strong> : "the computer's name"}.</p>
                </div>

                <div className="setup-choices">
                    <form className="card setup-card" onSubmit={create} aria-labelledby="create-title">
                        <h2 id="create-title">Create a cluster</h2>
                        <p>This machine becomes the cluster's first member. Add the others afterwards with <em>Invite</em>.</p>
                        {createError && <ErrorNote onDismiss={() => actions.clearError("create")}>{createError}</ErrorNote>}
                        <div className="card-actions">
                            <Button type="submit" variant="primary" testId="setup-create" busy={busyCreate} disabled={busyJoin}>Create cluster</Button>
                        </div>
                    </form>

                    <form className="card setup-card" onSubmit={join} aria-labelledby="join-title">
                        <h2 id="join-title">Join a cluster</h2>
                        <p>On a machine already in the cluster, open <em>Cluster</em>, press <em>Invite</em>, and type the code it shows.</p>
                        <div className="field">
                            <label htmlFor="setup-join-code">Join code</label>
                            <input
                                id="setup-join-code"
                                data-testid="setup-join-code"
                                className="code-input"
                                value={code}
                                onChange={(e) => setCode(e.target.value)}
                                placeholder="7KQ2-M9XD-4HPW-3TRN"
                                autoComplete="off"
                                autoCapitalize="characters"
                                spellCheck={false}
                                disabled={busy}
                            />
                        </div>
                        <div className="field">
                            <label htmlFor="setup-join-peer">Member address <span className="optional">optional</span></label>
                            <input
                                id="setup-join-peer"
                                data-testid="setup-join-peer"
                                value={peer}
                                onChange={(e) => setPeer(e.target.value)}
                                placeholder="192.168.1.20:7420"
                                autoComplete="off"
                                spellCheck={false}
                                disabled={busy}
                            />
                            <p className="hint">Only where this network blocks multicast and the member is not found by itself: the address the Invite shows.</p>
                        </div>
                        {joinError && <ErrorNote onDismiss={() => actions.clearError("join")}>{joinError}</ErrorNote>}
                        <div className="card-actions">
                            <Button type="submit" variant="primary" testId="setup-join" busy={busyJoin} disabled={busyCreate}>Join cluster</Button>
                        </div>
                    </form>
                </div>
                {busy && (
                    <p className="setup-status" role="status"><Spinner /> {busyCreate ? "Creating the cluster…" : "Joining — looking for the inviting machine…"}</p>
                )}
            </div>
        </main>
    );
}

export function StartingScreen() {
    const app = useStreams((s) => s.app);
    return (
        <main className="center-screen" aria-busy="true">
            <div className="center-card" role="status">
                <Spinner />
                <h1>Starting this machine's node…</h1>
                <p>{app?.message || "This takes a few seconds."}</p>
            </div>
        </main>
    );
}

export function FailedScreen() {
    const app = useStreams((s) => s.app);
    const actions = useActions();
    const leaving = useUi((s) => s.busy.leave === true);
    const leaveError = useUi((s) => s.errors.leave ?? "");
    const [confirmLeave, setConfirmLeave] = useState(false);
    const inCluster = app?.clusterId != null;
    return (
        <main className="center-screen">
            <div className="center-card center-card-wide">
                <h1>This machine's node stopped</h1>
                <ErrorNote testId="app-error">{app?.message || "It did not say why. Restart Hearth; if it stops again, check that no other program uses its port."}</ErrorNote>
                <p>
                    {inCluster
                        ? "Restart Hearth on this machine to try again with this cluster (this page reconnects by itself). Or leave the cluster and set this machine up afresh."
                        : "Go back to setup to create a cluster or join one."}
                </p>
                {!confirmLeave && (
                    <div className="card-actions">
                        {inCluster
                            ? <Button variant="secondary" onClick={() => setConfirmLeave(true)} autoFocus>Leave the cluster…</Button>
                            : <Button variant="primary" onClick={() => actions.backToSetup()} autoFocus>Back to setup</Button>}
                    </div>
                )}
                {confirmLeave && (
                    <div className="confirm card" role="alertdialog" aria-labelledby="failed-leave-title">
                        <p id="failed-leave-title">Leave the cluster? This machine forgets it and goes back to setup; the other members keep running.</p>
                        {leaveError && <ErrorNote>{leaveError}</ErrorNote>}
                        <div className="card-actions">
                            <Button variant="danger" testId="leave-confirm" busy={leaving} onClick={() => void actions.leave()}>Leave cluster</Button>
                            <Button onClick={() => setConfirmLeave(false)} disabled={leaving}>Cancel</Button>
                        </div>
                    </div>
                )}
            </div>
        </main>
    );
}

export function LoadingScreen() {
    return (
        <main className="center-screen" aria-busy="true">
            <div className="center-card" role="status">
                <Spinner />
                <p>Connecting to this machine's node…</p>
            </div>
        </main>
    );
}
