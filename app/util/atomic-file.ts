// Small files written so that a crash never leaves a half-written one: a temporary file in the
// same folder, flushed, then renamed over the target.
import fs from "node:fs";
import path from "node:path";

export function writeFileAtomicSync(file: string, data: string | Buffer, mode = 0o644): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    const fd = fs.openSync(tmp, "w", mode);
    try {
        fs.writeSync(fd, typeof data === "string" ? Buffer.from(data, "utf8") : data);
        fs.fsyncSync(fd);
    } finally {
        fs.closeSync(fd);
    }
    fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, file);
}

export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o644): Promise<void> {
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`;
    const fh = await fs.promises.open(tmp, "w", mode);
    try {
        await fh.writeFile(data);
        await fh.sync();
    } finally {
        await fh.close();
    }
    await fs.promises.rename(tmp, file);
}
