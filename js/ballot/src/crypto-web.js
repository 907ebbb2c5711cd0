// @ts-check
/**
 * The platform's hash and signature primitives over WebCrypto (`globalThis.crypto.subtle`), for
 * browsers with Ed25519 in WebCrypto (Firefox 129+, Safari 17+, Chrome 137+) and Node.js 20. The
 * same four functions as src/crypto-node.js; the package.json "imports" map selects this module
 * under the "browser" condition. test/crypto.test.js runs every vector through both.
 */

/** PKCS#8 DER of an Ed25519 private key, up to its 32-byte seed (RFC 8410). */
const PKCS8_PREFIX = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
const ED25519 = { name: "Ed25519" };

/** @returns {SubtleCrypto} */
function subtle() {
  const s = globalThis.crypto?.subtle;
  if (s === undefined) throw new Error("@mvote/ballot: this platform has no WebCrypto (crypto.subtle)");
  return s;
}

/**
 * @param {Uint8Array} data
 * @returns {Promise<Uint8Array>} SHA-256 of data
 */
export async function sha256(data) {
  return new Uint8Array(await subtle().digest("SHA-256", copy(data)));
}

/**
 * An Ed25519 signer from a 32-byte seed (RFC 8032). Precondition: seed is 32 bytes.
 * @param {Uint8Array} seed
 * @returns {Promise<{publicKey: Uint8Array, sign: (message: Uint8Array) => Promise<Uint8Array>}>}
 */
export async function ed25519Signer(seed) {
  const der = new Uint8Array([...PKCS8_PREFIX, ...seed]);
  const privateKey = await subtle().importKey("pkcs8", der, ED25519, true, ["sign"]);
  const jwk = await subtle().exportKey("jwk", privateKey);
  return {
    publicKey: base64url(/** @type {string} */ (jwk.x)),
    sign: async (message) => new Uint8Array(await subtle().sign(ED25519, privateKey, copy(message))),
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
  const key = await subtle().importKey("raw", copy(publicKey), ED25519, false, ["verify"]);
  return subtle().verify(ED25519, key, copy(signature), copy(message));
}

/**
 * A copy on a fresh ArrayBuffer: WebCrypto takes no views of shared memory.
 * @param {Uint8Array} data
 * @returns {Uint8Array<ArrayBuffer>}
 */
function copy(data) {
  return new Uint8Array(data);
}

/**
 * @param {string} text base64url without padding
 * @returns {Uint8Array}
 */
function base64url(text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
