// @ts-check
/** Lowercase hex, the one spelling of byte strings in mvote's records. */

import { INVALID_FIELD, fail } from "./errors.js";

const HEX_DIGITS = /^(?:[0-9a-f]{2})*$/;

/**
 * @param {Uint8Array} bytes
 * @returns {string} lowercase hex
 */
export function toHex(bytes) {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/**
 * Bytes of lowercase hex `text` of exactly `size` bytes (any even length if `size` is null).
 * @param {unknown} text
 * @param {number | null} size
 * @param {string} field named in the error
 * @returns {Uint8Array}
 */
export function fromHex(text, size, field) {
  if (typeof text !== "string") fail(INVALID_FIELD, field, `expected a hex string, got ${typeName(text)}`);
  if ((size !== null && text.length !== 2 * size) || !HEX_DIGITS.test(text)) {
    const want = size === null ? "lowercase hex digits" : `${2 * size} lowercase hex digits (${size} bytes)`;
    fail(INVALID_FIELD, field, `expected ${want}, got ${JSON.stringify(text.slice(0, 80))}`);
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * The JSON type name of a value, as the Python schema names it in errors.
 * @param {unknown} value
 * @returns {string}
 */
export function typeName(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  if (typeof value === "object") return "object";
  return typeof value;
}
