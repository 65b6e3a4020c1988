// The renderer's entry: pick the API (Electron's preload, or the WebSocket to this machine's
// node), make the stores, and render the app.
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { chooseApi, type HearthWindow } from "./api/choose-api.ts";
import { createHearth } from "./state/hearth.ts";
import type { Scheduler } from "./state/streams-store.ts";
import { App } from "./ui/App.tsx";
import { HearthContext } from "./ui/hooks.ts";
import "./styles.css";

/** Once per animation frame, or within 100 ms where frames do not run (a hidden window). */
const perFrame: Scheduler = (flush) => {
    let done = false;
    const run = () => { if (!done) { done = true; flush(); } };
    requestAnimationFrame(run);
    setTimeout(run, 100);
};

const chosen = chooseApi(window as Window & HearthWindow);
const hearth = createHearth(chosen.api, { schedule: perFrame, shell: chosen.shell, connection: chosen.ws });

const root = document.getElementById("root");
if (root === null) throw new Error("index.html has no #root");
createRoot(root).render(
    <StrictMode>
        <HearthContext.Provider value={hearth}>
            <App />
        </HearthContext.Provider>
    </StrictMode>
);
