export function buildConfigGypi(c: {
    includeDirs: string[];
    libraries: string[];
    libDir: string;
    addonDir: string;
    platform: NodeJS.Platform;
}): string;
