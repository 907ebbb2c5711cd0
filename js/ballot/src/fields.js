// @ts-check
/**
 * Field checks for the records this package builds or reads: the same bounds, patterns and
 * messages as mvote/chaincode/_schema.py and records.py, so a field the contract would refuse is
 * refused here first, with INVALID_FIELD naming the same path.
 */

import { INVALID_FIELD, fail } from "./errors.js";
import { fromHex, typeName } from "./hex.js";

const CONTROL = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/;

/** records.py IDENTIFIER (question and roster ids). */
export const IDENTIFIER = { min: 1, max: 64, pattern: /^[a-z0-9][a-z0-9._-]*$/ };
/** records.py CHANNEL. */
export const CHANNEL = { min: 1, max: 249, pattern: /^[a-z][a-z0-9.-]*$/ };
/** CAST_SHAPE's on-site code. */
export const CODE = { min: 4, max: 64, pattern: /^[A-Za-z0-9-]+$/ };
/** QUESTION_SPEC's title (1..200 characters of one line). */
export const TITLE = { min: 1, max: 200, pattern: /^[\s\S]*$/ };
/** QUESTION_SPEC's option label (1..200 characters of one line). */
export const OPTION = { min: 1, max: 200, pattern: /^[\s\S]*$/ };
/** CREDENTIAL_SHAPE's scope: a question id or "*". */
export const SCOPE = { min: 1, max: 64, pattern: /^(?:\*|[a-z0-9][a-z0-9._-]*)$/ };

/**
 * @param {unknown} value
 * @param {string} path
 * @param {{min: number, max: number, pattern: RegExp}} shape
 * @returns {string}
 */
export function text(value, path, shape) {
  if (typeof value !== "string") fail(INVALID_FIELD, path, `expected a string, got ${typeName(value)}`);
  const length = [...value].length; // code points, as Python's len()
  if (length < shape.min || length > shape.max) {
    fail(INVALID_FIELD, path, `expected ${shape.min}..${shape.max} characters, got ${length}`);
  }
  if (CONTROL.test(value)) fail(INVALID_FIELD, path, "control characters are not allowed");
  if (!shape.pattern.test(value)) {
    fail(INVALID_FIELD, path, `expected to match ${shape.pattern.source.slice(1, -1)}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * @param {unknown} value
 * @param {string} path
 * @param {number} min
 * @param {number} max
 * @returns {number}
 */
export function integer(value, path, min, max) {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    fail(INVALID_FIELD, path, `expected an integer, got ${typeName(value)}`);
  }
  if (value < min || value > max) fail(INVALID_FIELD, path, `expected an integer in ${min}..${max}, got ${value}`);
  return value;
}

/**
 * Lowercase hex of exactly `size` bytes.
 * @param {unknown} value
 * @param {string} path
 * @param {number} size
 * @returns {string}
 */
export function hex(value, path, size) {
  fromHex(value, size, path);
  return /** @type {string} */ (value);
}

/**
 * @param {unknown} value
 * @param {string} path
 * @param {string} expected
 * @returns {string}
 */
export function constant(value, path, expected) {
  if (value !== expected) fail(INVALID_FIELD, path, `expected ${JSON.stringify(expected)}, got ${JSON.stringify(value) ?? typeName(value)}`);
  return expected;
}

/**
 * An object with exactly the keys `required` (and any of `optional`): unknown keys and missing
 * keys are refused, in schema.py's order.
 * @param {unknown} value
 * @param {string} path
 * @param {string[]} required
 * @param {string[]} [optional]
 * @returns {Record<string, unknown>}
 */
export function object(value, path, required, optional = []) {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(INVALID_FIELD, path, `expected an object, got ${typeName(value)}`);
  }
  const record = /** @type {Record<string, unknown>} */ (value);
  const known = [...required, ...optional];
  for (const key of Object.keys(record)) {
    if (!known.includes(key)) {
      fail(INVALID_FIELD, join(path, key), `unknown field (expected one of ${JSON.stringify([...known].sort())})`);
    }
  }
  for (const key of required) {
    if (!Object.hasOwn(record, key)) fail(INVALID_FIELD, join(path, key), "missing field");
  }
  return record;
}

/**
 * @param {string} path
 * @param {string} key
 * @returns {string}
 */
export function join(path, key) {
  return path === "" || path === "$" ? key : `${path}.${key}`;
}
