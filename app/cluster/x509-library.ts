// @peculiar/x509 (certificate creation), loaded at first use: it needs the reflect-metadata
// polyfill before it is imported, and nothing of it should run when Hearth merely starts.
import crypto from "node:crypto";

type X509Library = typeof import("@peculiar/x509");

let loading: Promise<X509Library> | null = null;

/** The @peculiar/x509 module, set to use Node's WebCrypto; loaded once, on the first call. */
export function loadX509Library(): Promise<X509Library> {
    loading ??= (async () => {
        await import("reflect-metadata");
        const library = await import("@peculiar/x509");
        library.cryptoProvider.set(crypto.webcrypto as unknown as Crypto);
        return library;
    })();
    return loading;
}
