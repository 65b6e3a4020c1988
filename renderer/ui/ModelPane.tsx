// The model: what the cluster runs, opening a GGUF (a path on the node's disk, Electron's file
// picker, or the built-in test model), downloads by URL, and the catalogue.
import { useEffect, useState, type FormEvent } from "react";
import { useShallow } from "zustand/react/shallow";
import type { CatalogueEntry, DownloadView, ModelFacts } from "../../app/ui-api/contract.ts";
import { formatBytes, formatEta, formatParameters, formatRate, progressFraction } from "../lib/format.ts";
import { clusterGlance, hostedModel, SIZE_CLASSES } from "../state/selectors.ts";
import { Button, ErrorNote, Note, PaneHeader, ProgressBar, Section, Spinner } from "./common.tsx";
import { useActions, useHearth, useStreams, useUi } from "./hooks.ts";

export function ModelPane() {
    return (
        <div className="pane-scroll">
            <PaneHeader title="Model" subtitle="The language model the cluster runs: its layers are spread over the machines." />
            <CurrentModel />
            <OpenModel />
            <Downloads />
            <Catalogue />
        </div>
    );
}

function CurrentModel() {
    const actions = useActions();
    const model = useStreams(hostedModel);
    const facts = useStreams((s) => s.model?.facts ?? null);
    const loading = useStreams((s) => s.model?.loading ?? null);
    const stateError = useStreams((s) => s.model?.error ?? "");
    const requesting = useUi((s) => s.busy.open === true || s.busy.testModel === true);
    const openError = useUi((s) => s.errors.open ?? "");
    const testError = useUi((s) => s.errors.testModel ?? "");
    const requestError = openError || testError;
    // One error element: the model's own (it says what to do), and the request's when it differs.
    const errors = [...new Set([stateError, requestError].filter((e) => e !== ""))];

    return (
        <Section title="The cluster's model" id="current-model">
            {model === null && loading === null && !requesting && errors.length === 0 && (
                <p className="muted">No model is loaded. Open a GGUF below, download one, or try the test model.</p>
            )}
            {model !== null && (
                <div className="model-status">
                    <span className={`dot dot-${model.state}`} aria-hidden="true" />
                    <strong>{model.name}</strong>
                    <span className="muted">hosted by {model.hostName}</span>
                    <span className={`badge badge-model-${model.state}`}>{model.state}</span>
                    {model.message && model.state !== "failed" && <span className="muted">{model.message}</span>}
                    {(model.state === "ready" || model.state === "replanning") && (
                        <button type="button" className="link-button" onClick={() => actions.navigate("placement")}>See placement</button>
                    )}
                </div>
            )}
            {loading === null && requesting && (
                <div className="load-progress" data-testid="load-progress" aria-live="polite">
                    <div className="load-head"><Spinner /><strong className="load-phase">starting</strong><span>asking this machine's node to load it…</span></div>
                    <ProgressBar fraction={null} label="Loading" />
                </div>
            )}
            {loading !== null && (
                <div className="load-progress" data-testid="load-progress" aria-live="polite">
                    <div className="load-head">
                        <Spinner />
                        <strong className="load-phase">{loading.message || loading.phase}</strong>
                        {loading.bytesTotal > 0 && <span className="muted">{formatBytes(loading.bytesDone)} of {formatBytes(loading.bytesTotal)}</span>}
                    </div>
                    <ProgressBar fraction={progressFraction(loading.bytesDone, loading.bytesTotal)} label={`Loading: ${loading.phase}`} />
                </div>
            )}
            {errors.length > 0 && (
                <ErrorNote testId="model-error" title="The model could not be loaded" onDismiss={requestError ? () => { actions.clearError("open"); actions.clearError("testModel"); } : undefined}>
                    {errors.map((e, i) => <p key={i} className="pre-line">{e}</p>)}
                </ErrorNote>
            )}
            {facts !== null && <Facts facts={facts} />}
        </Section>
    );
}

function Facts({ facts }: { facts: ModelFacts }) {
    return (
        <div className="facts-block">
            {facts.testModel && <Note kind="warn">Hearth's test model: random weights — gibberish text, for seeing the pipeline work.</Note>}
            <dl className="facts" data-testid="model-facts">
                <div><dt>Name</dt><dd>{facts.name}</dd></div>
                <div><dt>Architecture</dt><dd>{facts.architecture}</dd></div>
                <div><dt>Parameters</dt><dd>{formatParameters(facts.parameters)}</dd></div>
                <div><dt>Quantization</dt><dd>{facts.quantization ?? "mixed"}</dd></div>
                <div><dt>Size</dt><dd>{formatBytes(facts.sizeBytes)}</dd></div>
                <div><dt>Layers</dt><dd>{facts.layers}</dd></div>
                <div><dt>Context</dt><dd>{facts.trainedContext === null ? "not given" : `${facts.trainedContext.toLocaleString("en-US")} tokens`}</dd></div>
                <div className="facts-wide"><dt>File</dt><dd><code title={facts.path}>{facts.path || facts.fileName}</code></dd></div>
            </dl>
        </div>
    );
}

function OpenModel() {
    const actions = useActions();
    const { shell } = useHearth();
    const shellKind = useStreams((s) => s.app?.shell ?? "web");
    const opening = useUi((s) => s.busy.open === true);
    const testing = useUi((s) => s.busy.testModel === true);
    const loading = useStreams((s) => s.model?.loading !== null && s.model?.loading !== undefined);
    const [path, setPath] = useState("");
    const submit = (e: FormEvent) => {
        e.preventDefault();
        void actions.openModel(path);
    };
    const busy = opening || testing || loading;
    return (
        <Section title="Open a model" id="open-model">
            <div className="open-grid">
                <form className="card open-card" onSubmit={submit}>
                    <h3>A GGUF file</h3>
                    {shell !== null && (
                        <div className="row">
                            <Button variant="primary" onClick={() => void actions.pickAndOpenModel()} busy={opening} disabled={busy}>Open a GGUF…</Button>
                            <span className="muted">or type its path:</span>
                        </div>
                    )}
                    <label htmlFor="model-path" className={shell !== null ? "sr-only" : undefined}>
                        {shellKind === "web" ? "Path of a .gguf file on this node's disk" : "Path of a .gguf file"}
                    </label>
                    <div className="row">
                        <input
                            id="model-path"
                            data-testid="model-path"
                            value={path}
                            onChange={(e) => setPath(e.target.value)}
                            placeholder="/home/me/models/Llama-3.2-3B-Instruct-Q4_K_M.gguf"
                            spellCheck={false}
                            autoComplete="off"
                        />
                        <Button type="submit" variant={shell !== null ? "secondary" : "primary"} testId="model-open" busy={opening} disabled={busy && !opening}>Open</Button>
                    </div>
                    {shellKind === "web" && <p className="hint">The file is on the machine running this node (the one this page comes from), not on the computer you browse from.</p>}
                </form>
                <div className="card open-card">
                    <h3>The test model</h3>
                    <p className="hint" id="test-model-desc">Random weights — gibberish text, for seeing the pipeline work. Made on this machine in a few seconds; nothing is downloaded.</p>
                    <div className="card-actions">
                        <Button aria-describedby="test-model-desc" testId="open-test-model" busy={testing} disabled={busy && !testing} onClick={() => void actions.openTestModel()}>Load the test model</Button>
                    </div>
                </div>
            </div>
        </Section>
    );
}

function Downloads() {
    const actions = useActions();
    const downloads = useStreams((s) => s.downloads);
    const starting = useUi((s) => s.busy.download === true);
    const error = useUi((s) => s.errors.download ?? "");
    const [url, setUrl] = useState("");
    const submit = (e: FormEvent) => {
        e.preventDefault();
        void actions.download(url).then((ok) => { if (ok) setUrl(""); });
    };
    return (
        <Section title="Download from Hugging Face" id="downloads" description="Paste a GGUF file's URL; it is saved in this machine's models folder, and a stopped download resumes.">
            <form className="row" onSubmit={submit}>
                <label htmlFor="download-url" className="sr-only">GGUF file URL</label>
                <input
                    id="download-url"
                    data-testid="download-url"
                    value={url}
                    onChange={(e) => setUrl(e.target.value)}
                    placeholder="https://huggingface.co/…/resolve/main/model-Q4_K_M.gguf"
                    spellCheck={false}
                    autoComplete="off"
                    inputMode="url"
                />
                <Button type="submit" testId="download-start" busy={starting}>Download</Button>
            </form>
            {error && <ErrorNote onDismiss={() => actions.clearError("download")}>{error}</ErrorNote>}
            {downloads !== null && downloads.length > 0 && (
                <ul className="downloads">
                    {downloads.map((d) => <DownloadRow key={d.id} download={d} />)}
                </ul>
            )}
        </Section>
    );
}

function DownloadRow({ download: d }: { download: DownloadView }) {
    const actions = useActions();
    const opening = useUi((s) => s.busy.open === true);
    const fraction = progressFraction(d.bytesDone, d.bytesTotal);
    const amount = d.bytesTotal > 0 ? `${formatBytes(d.bytesDone)} of ${formatBytes(d.bytesTotal)}` : `${formatBytes(d.bytesDone)}`;
    return (
        <li className={`download download-${d.state}`}>
            <div className="download-head">
                <strong className="download-name" title={d.url}>{d.fileName}</strong>
                <span className={`badge badge-dl-${d.state}`}>{d.state}</span>
            </div>
            {d.state === "downloading" && (
                <div data-testid="download-progress" className="download-progress">
                    <ProgressBar fraction={fraction} label={`Downloading ${d.fileName}`} />
                    <div className="download-figures">
                        <span>{amount}{fraction !== null ? ` (${Math.floor(fraction * 100)}%)` : ""}</span>
                        <span>{formatRate(d.bytesPerSecond)}</span>
                        <span>{d.etaSeconds === null ? "time left unknown" : `${formatEta(d.etaSeconds)} left`}</span>
                        <Button className="btn-small" variant="quiet" testId="download-cancel" onClick={() => void actions.cancelDownload(d.id)}>Cancel</Button>
                    </div>
                </div>
            )}
            {d.state === "done" && (
                <div className="download-figures">
                    <span>{formatBytes(d.bytesTotal || d.bytesDone)} · <code title={d.path}>{d.path}</code></span>
                    <Button className="btn-small" variant="primary" busy={opening} onClick={() => void actions.openModel(d.path)}>Load it</Button>
                </div>
            )}
            {d.state === "failed" && (
                <div className="download-figures">
                    <span className="error-text">{d.error || "The download failed."}</span>
                    <Button className="btn-small" onClick={() => void actions.download(d.url)}>Resume</Button>
                </div>
            )}
            {d.state === "cancelled" && (
                <div className="download-figures">
                    <span className="muted">Cancelled at {amount}.</span>
                    <Button className="btn-small" onClick={() => void actions.download(d.url)}>Resume</Button>
                </div>
            )}
        </li>
    );
}

function Catalogue() {
    const actions = useActions();
    const catalogue = useUi((s) => s.catalogue);
    const loadingCatalogue = useUi((s) => s.busy.catalogue === true);
    const error = useUi((s) => s.errors.catalogue ?? "");
    const members = useStreams((s) => clusterGlance(s).members);
    const downloading = useStreams(useShallow((s) => (s.downloads ?? []).filter((d) => d.state === "downloading").map((d) => d.url)));
    const starting = useUi((s) => s.busy.download === true);

    // Whether a model fits depends on the members that answer: ask again when they change.
    useEffect(() => { void actions.loadCatalogue(); }, [actions, members]);

    return (
        <Section
            title="Recommended models"
            id="catalogue"
            description="Sized against the memory of the machines that answer now."
            actions={<Button variant="quiet" className="btn-small" busy={loadingCatalogue} onClick={() => void actions.loadCatalogue()}>Refresh</Button>}
        >
            {error && <ErrorNote onDismiss={() => actions.clearError("catalogue")}>{error}</ErrorNote>}
            {catalogue === null && !error && <p className="muted"><Spinner /> Loading the catalogue…</p>}
            {catalogue !== null && catalogue.length === 0 && <p className="muted">The catalogue is empty.</p>}
            {catalogue !== null && SIZE_CLASSES.map((sizeClass) => {
                const entries = catalogue.filter((e) => e.sizeClass === sizeClass);
                if (entries.length === 0) return null;
                return (
                    <div key={sizeClass} className="catalogue-group">
                        <h3 className="catalogue-class">{sizeClass} parameters</h3>
                        <ul className="catalogue-list">
                            {entries.map((entry) => (
                                <CatalogueRow key={entry.id} entry={entry} downloading={downloading.includes(entry.url)} starting={starting} />
                            ))}
                        </ul>
                    </div>
                );
            })}
        </Section>
    );
}

function CatalogueRow({ entry, downloading, starting }: { entry: CatalogueEntry; downloading: boolean; starting: boolean }) {
    const actions = useActions();
    return (
        <li className="catalogue-entry" data-testid="catalogue-entry" data-fits={entry.fits ? "true" : "false"}>
            <div className="catalogue-main">
                <strong>{entry.title}</strong>
                <span className="muted">{entry.architecture} · {entry.quantization} · {formatBytes(entry.sizeBytes)}</span>
            </div>
            <span className={`fit ${entry.fits ? "fit-yes" : "fit-no"}`}>
                {entry.fits ? "fits this cluster" : `needs ${formatBytes(entry.shortfallBytes)} more`}
            </span>
            <Button className="btn-small" disabled={downloading || starting} onClick={() => void actions.download(entry.url)}>
                {downloading ? "Downloading…" : "Download"}
            </Button>
        </li>
    );
}
