// Join codes: 80 random bits as 16 characters of Crockford base32 in four groups of four
// ("7KQ2-M9XD-4HPW-3TRN"). Read case-insensitively, with I and L taken as 1 and O as 0, and
// spaces or dashes anywhere. The code never crosses the network: only HMACs keyed by it do.
import crypto from "node:crypto";
import { JoinCodeFormatError } from "./errors.ts";

export const JOIN_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const JOIN_CODE_CHARACTERS = 16;
export const JOIN_CODE_SECRET_BYTES = 10;

/** A new join code's secret: 80 random bits. */
export function newJoinCodeSecret(): Buffer { return crypto.randomBytes(JOIN_CODE_SECRET_BYTES); }

/** The code as it is shown: "7KQ2-M9XD-4HPW-3TRN". */
export function formatJoinCode(secret: Buffer): string {
    if (secret.length !== JOIN_CODE_SECRET_BYTES) throw new Error(`a join code secret is ${JOIN_CODE_SECRET_BYTES} bytes, not ${secret.length}`);
    let bits = 0n;
    for (const byte of secret) bits = (bits << 8n) | BigInt(byte);
    let text = "";
    for (let i = JOIN_CODE_CHARACTERS - 1; i >= 0; i--) text += JOIN_CODE_ALPHABET[Number((bits >> BigInt(5 * i)) & 31n)];
    return text.match(/.{4}/g)!.join("-");
}

/** The secret of a typed code; a code that cannot be one throws JoinCodeFormatError saying why. */
export function parseJoinCode(typed: string): Buffer {
    const example = "it looks like 7KQ2-M9XD-4HPW-3TRN";
    const text = typed.replace(/[\s-]+/g, "").toUpperCase().replace(/[IL]/g, "1").replace(/O/g, "0");
    const wrong = [...text].filter((c) => !JOIN_CODE_ALPHABET.includes(c));
    if (wrong.length > 0)
        throw new JoinCodeFormatError(`a join code has only digits and the letters A–Z without U; ` +
            `'${[...new Set(wrong)].join("', '")}' is not one of them. Type the code shown on the inviting machine (${example})`);
    if (text.length !== JOIN_CODE_CHARACTERS)
        throw new JoinCodeFormatError(`a join code has ${JOIN_CODE_CHARACTERS} characters, this one has ${text.length}; ` +
            `type all four groups shown on the inviting machine (${example})`);
    let bits = 0n;
    for (const c of text) bits = (bits << 5n) | BigInt(JOIN_CODE_ALPHABET.indexOf(c));
    const secret = Buffer.alloc(JOIN_CODE_SECRET_BYTES);
    for (let i = JOIN_CODE_SECRET_BYTES - 1; i >= 0; i--) { secret[i] = Number(bits & 0xffn); bits >>= 8n; }
    return secret;
}
