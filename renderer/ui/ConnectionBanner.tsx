// A calm banner while the page has no connection to this machine's node (the web UI's WebSocket).
import { useUi, useHearth, useNow } from "./hooks.ts";
import { formatCountdown } from "../lib/format.ts";

export function ConnectionBanner() {
    const connection = useUi((s) => s.connection);
    const { reconnectNow } = useHearth();
    const down = connection.status === "lost" || (connection.status === "connecting" && connection.failedAttempts > 0);
    const now = useNow(1000, down && connection.nextAttemptAtMs !== null);
    if (!down) return null;
    const waitMs = connection.nextAttemptAtMs === null ? 0 : connection.nextAttemptAtMs - now;
    return (
        <div className="connection-banner" data-testid="connection-banner" role="status" aria-live="polite">
            <span className="spinner spinner-small" aria-hidden="true" />
            <span className="connection-text">
                {connection.status === "lost" ? "Connection to this machine's node lost — reconnecting…" : "Cannot reach this machine's node yet — retrying…"}
                {waitMs > 1500 && <span className="connection-wait"> next try in {formatCountdown(waitMs)}</span>}
                {connection.failedAttempts >= 4 && (
                    <span className="connection-hint"> If the node was restarted, open the link it printed again (it carries a new login token).</span>
                )}
            </span>
            {reconnectNow && waitMs > 1500 && (
                <button type="button" className="btn btn-quiet btn-small" onClick={reconnectNow}>Try now</button>
            )}
        </div>
    );
}
