// Small pieces every pane uses: buttons that show they are working, progress and memory bars,
// notes for errors and hints.
import type { ButtonHTMLAttributes, ReactNode } from "react";
import { formatPercent, formatUsedOfTotal } from "../lib/format.ts";

export function Spinner({ label }: { label?: string }) {
    return <span className="spinner" role={label ? "status" : undefined} aria-label={label} aria-hidden={label ? undefined : true} />;
}

type ButtonProps = ButtonHTMLAttributes<HTMLButtonElement> & {
    busy?: boolean;
    variant?: "primary" | "secondary" | "danger" | "quiet";
    testId?: string;
};

export function Button({ busy = false, variant = "secondary", testId, className, children, disabled, type, ...rest }: ButtonProps) {
    return (
        <button
            {...rest}
            type={type ?? "button"}
            data-testid={testId}
            className={`btn btn-${variant}${busy ? " is-busy" : ""}${className ? ` ${className}` : ""}`}
            disabled={disabled || busy}
            aria-busy={busy || undefined}
        >
            {busy && <Spinner />}
            <span>{children}</span>
        </button>
    );
}

/** A bar from 0 to 1; `fraction` null: under way, amount unknown. */
export function ProgressBar({ fraction, label, testId, className }: { fraction: number | null; label: string; testId?: string; className?: string }) {
    const determinate = fraction !== null;
    return (
        <div
            className={`progress${determinate ? "" : " is-indeterminate"}${className ? ` ${className}` : ""}`}
            role="progressbar"
            aria-label={label}
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={determinate ? Math.round(fraction * 100) : undefined}
            data-testid={testId}
        >
            <div className="progress-fill" style={determinate ? { width: `${(fraction * 100).toFixed(1)}%` } : undefined} />
        </div>
    );
}

/** Memory as used of total; the element carries both in bytes (`data-used-bytes`, `data-total-bytes`). */
export function MemoryBar({ label, usedBytes, totalBytes, testId, detail }: { label: string; usedBytes: number; totalBytes: number; testId: string; detail?: string }) {
    const used = Math.max(0, Math.min(usedBytes, totalBytes));
    const fraction = totalBytes > 0 ? used / totalBytes : 0;
    const level = fraction > 0.9 ? " is-high" : fraction > 0.75 ? " is-mid" : "";
    return (
        <div className="membar" data-testid={testId} data-used-bytes={Math.round(used)} data-total-bytes={Math.round(totalBytes)}>
            <div className="membar-head">
                <span className="membar-label">{label}</span>
                <span className="membar-figures">{formatUsedOfTotal(used, totalBytes)} used</span>
            </div>
            <div
                className={`membar-track${level}`}
                role="meter"
                aria-label={`${label}: ${formatPercent(fraction)} used`}
                aria-valuemin={0}
                aria-valuemax={100}
                aria-valuenow={Math.round(fraction * 100)}
            >
                <div className="membar-fill" style={{ width: `${(fraction * 100).toFixed(1)}%` }} />
            </div>
            {detail && <div className="membar-detail">{detail}</div>}
        </div>
    );
}

export function ErrorNote({ testId, title, children, onDismiss }: { testId?: string; title?: string; children: ReactNode; onDismiss?: () => void }) {
    return (
        <div className="note note-error" role="alert" data-testid={testId}>
            <div className="note-body">
                {title && <strong className="note-title">{title}</strong>}
                <div>{children}</div>
            </div>
            {onDismiss && (
                <button type="button" className="note-close" onClick={onDismiss} aria-label="Dismiss">×</button>
            )}
        </div>
    );
}

export function Note({ kind = "info", children, testId }: { kind?: "info" | "warn"; children: ReactNode; testId?: string }) {
    return <div className={`note note-${kind}`} data-testid={testId}><div className="note-body">{children}</div></div>;
}

export function Section({ title, description, actions, children, className, id }: { title: string; description?: ReactNode; actions?: ReactNode; children: ReactNode; className?: string; id?: string }) {
    const headingId = id ? `${id}-title` : undefined;
    return (
        <section className={`section${className ? ` ${className}` : ""}`} aria-labelledby={headingId} id={id}>
            <div className="section-head">
                <div>
                    <h2 id={headingId}>{title}</h2>
                    {description && <p className="section-desc">{description}</p>}
                </div>
                {actions && <div className="section-actions">{actions}</div>}
            </div>
            {children}
        </section>
    );
}

export function PaneHeader({ title, subtitle, actions }: { title: string; subtitle?: ReactNode; actions?: ReactNode }) {
    return (
        <header className="pane-header">
            <div>
                <h1>{title}</h1>
                {subtitle && <p className="pane-subtitle">{subtitle}</p>}
            </div>
            {actions && <div className="pane-actions">{actions}</div>}
        </header>
    );
}
