// @ts-check
/** Voter and registrar keys: Ed25519 from a 32-byte seed, public-key checks, signatures. */

import { ed25519Signer, ed25519Verify } from "#crypto";
import { BAD_SIGNATURE, INVALID_FIELD, INVALID_KEY, fail } from "./errors.js";
import { fromHex, toHex } from "./hex.js";
import { isAdmissibleSignature, isValidPoint } from "./point.js";

/**
 * @typedef {object} SigningKey
 * @property {Uint8Array} publicKey the 32-byte Ed25519 public key
 * @property {(message: Uint8Array) => Promise<Uint8Array>} sign a 64-byte RFC 8032 signature
 */

/**
 * A voter's (or registrar's) Ed25519 key from its 32-byte seed, as pynacl's SigningKey(seed).
 * @param {Uint8Array} seed 32 bytes
 * @returns {Promise<SigningKey>}
 */
export async function keyFromSeed(seed) {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) {
    const got = seed instanceof Uint8Array ? `${seed.length} bytes` : typeof seed;
    fail(INVALID_FIELD, "seed", `expected 32 bytes, got ${got}`);
  }
  const signer = await ed25519Signer(seed);
  return Object.freeze({ publicKey: signer.publicKey, sign: signer.sign });
}

/**
 * @param {SigningKey | Uint8Array} key a signing key or a public key
 * @returns {string} the public key as 64 lowercase hex digits (the ballot's `voter`)
 */
export function publicKeyHex(key) {
  return toHex(key instanceof Uint8Array ? key : key.publicKey);
}

/**
 * The bytes of a public key given as hex, if it is a valid key (a canonical point of the
 * prime-order subgroup, not of small order); else INVALID_FIELD (not 32-byte hex) or INVALID_KEY.
 * @param {unknown} hex
 * @param {string} field named in the error
 * @returns {Uint8Array}
 */
export function checkedPublicKey(hex, field) {
  const key = fromHex(hex, 32, field);
  if (!isValidPoint(key)) fail(INVALID_KEY, field, "not a canonical point of the prime-order subgroup of edwards25519");
  return key;
}

/**
 * Throw BAD_SIGNATURE naming `field` unless `signature` is valid for `message`, with libsodium's
 * strictness (canonical S, R not of small order). Precondition: publicKey passed checkedPublicKey.
 * @param {Uint8Array} publicKey
 * @param {Uint8Array} message
 * @param {Uint8Array} signature 64 bytes
 * @param {string} field
 * @returns {Promise<void>}
 */
export async function verifySignature(publicKey, message, signature, field) {
  if (!isAdmissibleSignature(signature) || !(await ed25519Verify(publicKey, message, signature))) {
    fail(BAD_SIGNATURE, field, "signature does not verify");
  }
}
