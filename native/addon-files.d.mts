export declare const ADDON_BACKENDS: readonly string[];
export declare function addonFile(nativeDir: string, backend: string): string;
