// What the desktop shell adds to the page beside the contract (`window.hearthShell`); the web UI
// has no such object, so the renderer must check for it before offering what it does.

export interface HearthShellApi {
    /** The OS open dialog, filtered to GGUF files: the chosen file's path, or null when the user cancelled. */
    pickModelFile(): Promise<string | null>;
}
