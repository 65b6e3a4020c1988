// Files the engine finds from its own location (the .proto files, the native addon, the test
// vocabularies). In a packaged Electron app the code lies inside app.asar, and what must be a real
// file on disk (native code; anything a library opens by path outside Electron's fs) lies in
// app.asar.unpacked beside it: this maps a path inside the archive to its unpacked twin.
import fs from "node:fs";
import path from "node:path";

const ASAR = `${path.sep}app.asar${path.sep}`;
const UNPACKED = `${path.sep}app.asar.unpacked${path.sep}`;

/** `file` with `app.asar` replaced by `app.asar.unpacked` when it lies in an archive and the unpacked twin exists; otherwise `file`. */
export function unpackedPath(file: string, exists: (p: string) => boolean = fs.existsSync): string {
    const at = file.lastIndexOf(ASAR);
    if (at < 0) return file;
    const twin = file.slice(0, at) + UNPACKED + file.slice(at + ASAR.length);
    return exists(twin) ? twin : file;
}
