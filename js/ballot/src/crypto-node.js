// @ts-check
/**
 * The platform's hash and signature primitives, for Node.js: the one module of this package that
 * imports `node:crypto`. src/crypto-web.js offers the same four functions over WebCrypto; the
 * package.json "imports" map picks that one under the "browser" condition (bundlers set it).
 * Every function is async because WebCrypto is.
 */

import { createHash, createPrivateKey, createPublicKey, sign, verify } from "node:crypto";

/** PKCS#8 DER of an Ed25519 private key, up to its 32-byte seed (RFC 8410). */
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
/** SubjectPublicKeyInfo DER of an Ed25519 public key, up to its 32 bytes (RFC 8410). */
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/**
 * @param {Uint8Array} data
 * @returns {Promise<Uint8Array>} SHA-256 of data
 */
export async function sha256(data) {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

/**
 * An Ed25519 signer from a 32-byte seed (RFC 8032). Precondition: seed is 32 bytes.
 * @param {Uint8Array} seed
 * @returns {Promise<{publicKey: Uint8Array, sign: (message: Uint8Array) => Promise<Uint8Array>}>}
 */
export async function ed25519Signer(seed) {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
  const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  return {
    publicKey: new Uint8Array(spki.subarray(SPKI_PREFIX.length)),
    sign: async (message) => new Uint8Array(sign(null, message, privateKey)),
  };
}

/**
 * Whether `signature` is a valid Ed25519 signature of `message` by `publicKey`. Preconditions:
 * 32-byte key, 64-byte signature (the caller checks the encodings mvote refuses: see keys.js).
 * @param {Uint8Array} publicKey
 * @param {Uint8Array} message
 * @param {Uint8Array} signature
 * @returns {Promise<boolean>}
 */
export async function ed25519Verify(publicKey, message, signature) {
  const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: "der", type: "spki" });
  return verify(null, message, key, signature);
}
