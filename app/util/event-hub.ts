// Typed events that a UI (or a test) can subscribe to: the current state first, then each change.
// The state is a pure fold of the events (`apply`), so a subscriber that keeps its own copy stays
// in step by applying the same function.

export interface StateMessage<State> { type: "state"; state: State }

export type Listener<State, Event> = (message: StateMessage<State> | Event) => void;

export class EventHub<State, Event extends { type: string }> {
    private current: State;
    private readonly listeners = new Set<Listener<State, Event>>();

    constructor(initial: State, private readonly apply: (state: State, event: Event) => State) {
        this.current = initial;
    }

    get state(): State { return this.current; }

    /** Folds the event into the state, then tells every listener. A throwing listener is dropped, never the emitter. */
    emit(event: Event): void {
        this.current = this.apply(this.current, event);
        for (const listener of [...this.listeners]) {
            try {
                listener(event);
            } catch {
                this.listeners.delete(listener);
            }
        }
    }

    /** Calls `listener` with the state at once, then with every event; returns the unsubscribe function. */
    subscribe(listener: Listener<State, Event>): () => void {
        this.listeners.add(listener);
        try {
            listener({ type: "state", state: this.current });
        } catch {
            this.listeners.delete(listener);
        }
        return () => { this.listeners.delete(listener); };
    }

    get listenerCount(): number { return this.listeners.size; }
}
