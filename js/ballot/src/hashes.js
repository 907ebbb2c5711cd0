// @ts-check
/** The hashes that name ballots and voters: tracker, voter hash, shard, on-site code hash. */

import { sha256 } from "#crypto";
import { INVALID_FIELD, fail } from "./errors.js";
import { fromHex, toHex, typeName } from "./hex.js";

const encoder = new TextEncoder();
const VOTER_HASH_DOMAIN = encoder.encode("mvote/voter-hash/v1\0");
const ONSITE_DOMAIN = encoder.encode("mvote/onsite-code/v1\0");
/** Shard counts a question may have (records.py: shards 1..1024). */
export const MAX_SHARDS = 1024;

/**
 * The ballot tracker: SHA-256 of the canonical bytes the voter signed, hex.
 * @param {Uint8Array} canonicalBytes
 * @returns {Promise<string>}
 */
export async function tracker(canonicalBytes) {
  return toHex(await sha256(canonicalBytes));
}

/**
 * The roster's name for a voter: SHA-256("mvote/voter-hash/v1" 0x00 || public key), hex.
 * @param {Uint8Array | string} publicKey 32 bytes, or their hex
 * @returns {Promise<string>}
 */
export async function voterHash(publicKey) {
  const key = bytesOf(publicKey, 32, "voter");
  return toHex(await sha256(concat(VOTER_HASH_DOMAIN, key)));
}

/**
 * The voter's shard: the first 8 bytes of the voter hash, big-endian, modulo `shards`.
 * @param {string | Uint8Array} hash the voter hash (from voterHash), hex or 32 bytes
 * @param {number} shards the question's shard count, 1..1024
 * @returns {number}
 */
export function shardOf(hash, shards) {
  const bytes = bytesOf(hash, 32, "voter_hash");
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS) {
    fail(INVALID_FIELD, "shards", `expected an integer in 1..${MAX_SHARDS}, got ${shards}`);
  }
  let prefix = 0n;
  for (const b of bytes.subarray(0, 8)) prefix = (prefix << 8n) | BigInt(b);
  return Number(prefix % BigInt(shards));
}

/**
 * What an on-site question commits for its code:
 * SHA-256("mvote/onsite-code/v1" 0x00 || salt || UTF-8(qid) || 0x00 || UTF-8(code)), hex.
 * @param {Uint8Array | string} salt 16 bytes, or their hex (the question's code_salt)
 * @param {string} qid
 * @param {string} code
 * @returns {Promise<string>}
 */
export async function onsiteCodeHash(salt, qid, code) {
  const saltBytes = bytesOf(salt, 16, "code_salt");
  if (typeof qid !== "string") fail(INVALID_FIELD, "qid", `expected a string, got ${typeof qid}`);
  if (typeof code !== "string") fail(INVALID_FIELD, "code", `expected a string, got ${typeof code}`);
  return toHex(await sha256(concat(ONSITE_DOMAIN, saltBytes, encoder.encode(qid), new Uint8Array([0]), encoder.encode(code))));
}

/**
 * `size` bytes given as bytes or as lowercase hex; INVALID_FIELD naming `field` otherwise.
 * @param {unknown} value
 * @param {number} size
 * @param {string} field
 * @returns {Uint8Array}
 */
function bytesOf(value, size, field) {
  if (typeof value === "string") return fromHex(value, size, field);
  if (!(value instanceof Uint8Array)) fail(INVALID_FIELD, field, `expected ${size} bytes or their hex, got ${typeName(value)}`);
  if (value.length !== size) fail(INVALID_FIELD, field, `expected ${size} bytes, got ${value.length}`);
  return value;
}

/**
 * @param {...Uint8Array} parts
 * @returns {Uint8Array}
 */
function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
