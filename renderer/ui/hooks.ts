// The stores as React sees them: one context with the Hearth, and selector hooks over its stores.
import { createContext, useContext, useEffect, useState } from "react";
import { useStore } from "zustand";
import type { Hearth } from "../state/hearth.ts";
import type { StreamsState } from "../state/streams-store.ts";
import type { UiState } from "../state/ui-store.ts";

export const HearthContext = createContext<Hearth | null>(null);

export function useHearth(): Hearth {
    const hearth = useContext(HearthContext);
    if (hearth === null) throw new Error("useHearth outside <HearthContext.Provider>");
    return hearth;
}

/** A slice of the streams; wrap selectors that build objects or arrays in useShallow. */
export function useStreams<T>(selector: (s: StreamsState) => T): T {
    return useStore(useHearth().streams, selector);
}

export function useUi<T>(selector: (s: UiState) => T): T {
    return useStore(useHearth().ui, selector);
}

export function useActions() {
    return useHearth().actions;
}

/** Date.now(), updated every `intervalMs` while `active`. */
export function useNow(intervalMs: number, active = true): number {
    const [now, setNow] = useState(() => Date.now());
    useEffect(() => {
        if (!active) return;
        setNow(Date.now());
        const timer = setInterval(() => setNow(Date.now()), intervalMs);
        return () => clearInterval(timer);
    }, [intervalMs, active]);
    return now;
}
