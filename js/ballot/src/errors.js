// @ts-check
/**
 * Typed errors with the stable codes of mvote's one error table (docs/errors.md).
 *
 * Every refusal carries a `code` that the Python implementation uses for the same refusal, the
 * `field` it names, and a message in the form "field: expected X, got Y". This module defines no
 * code of its own: tests/interop/test_js_ballot.py checks that every code below is in the table.
 */

export const MALFORMED = "MALFORMED";
export const NON_CANONICAL = "NON_CANONICAL";
export const TOO_LARGE = "TOO_LARGE";
export const INVALID_FIELD = "INVALID_FIELD";
export const INVALID_KEY = "INVALID_KEY";
export const BAD_SIGNATURE = "BAD_SIGNATURE";
export const BAD_CREDENTIAL = "BAD_CREDENTIAL";
export const RULE_VIOLATION = "RULE_VIOLATION";
export const UNSUPPORTED = "UNSUPPORTED";

/** The codes this package may throw (a subset of mvote's error table). */
export const ERROR_CODES = Object.freeze([
  MALFORMED,
  NON_CANONICAL,
  TOO_LARGE,
  INVALID_FIELD,
  INVALID_KEY,
  BAD_SIGNATURE,
  BAD_CREDENTIAL,
  RULE_VIOLATION,
  UNSUPPORTED,
]);

export class MvoteError extends Error {
  /**
   * @param {string} code a stable code of mvote's error table
   * @param {string} message "field: expected X, got Y"
   * @param {string | null} field the offending field's path, or null
   */
  constructor(code, message, field) {
    super(message);
    this.name = "MvoteError";
    /** @type {string} */
    this.code = code;
    /** @type {string | null} */
    this.field = field;
  }

  /** "CODE: message", the form the contract puts in a Fabric response (as Python's str()). */
  toString() {
    return `${this.code}: ${this.message}`;
  }
}

/**
 * Throw an MvoteError: `field: text`.
 * @param {string} code
 * @param {string} field
 * @param {string} text
 * @returns {never}
 */
export function fail(code, field, text) {
  throw new MvoteError(code, `${field}: ${text}`, field);
}
