// The app by the node's phase: setup, starting, failed, or running (the panes).
import { ConnectionBanner } from "./ConnectionBanner.tsx";
import { useStreams, useUi } from "./hooks.ts";
import { FailedScreen, LoadingScreen, SetupScreen, StartingScreen } from "./SetupScreen.tsx";
import { Shell } from "./Shell.tsx";

export function App() {
    const phase = useStreams((s) => s.app?.phase ?? null);
    const setupAfterFailure = useUi((s) => s.setupAfterFailure);
    let screen;
    if (phase === null) screen = <LoadingScreen />;
    else if (phase === "setup") screen = <SetupScreen />;
    else if (phase === "starting") screen = <StartingScreen />;
    else if (phase === "failed") screen = setupAfterFailure ? <SetupScreen /> : <FailedScreen />;
    else screen = <Shell />;
    return (
        <div className="app">
            <ConnectionBanner />
            {screen}
        </div>
    );
}
