export type ElectronBinary = { found: true; path: string } | { found: false; reason: string };

/** Where the Electron binary is (never downloads it): from the electron package's path.txt and dist/, or $ELECTRON_OVERRIDE_DIST_PATH. */
export function findElectronBinary(options?: { packageDir?: string | null; env?: Record<string, string | undefined> }): ElectronBinary;
