// @ts-check
/**
 * The one byte encoding of every mvote record and signed payload: RFC 8785 (JCS) canonical JSON
 * with mvote's restrictions (mvote/chaincode/encoding.py is the reference): integers only, within
 * +-(2**53 - 1); text in Unicode NFC, no lone surrogates; no duplicate keys; keys sorted by UTF-16
 * code units; no whitespace; raw UTF-8 (only the quote, the backslash and control characters are
 * escaped, in the short forms and lowercase \u00xx).
 *
 * `decodeCanonical` accepts exactly the bytes `canonicalize` produces and nothing else: it parses
 * (with the reference's order of refusals, so every input gets the same error code in both
 * languages), re-encodes and compares bytes.
 */

import { MALFORMED, NON_CANONICAL, TOO_LARGE, MvoteError, fail } from "./errors.js";

export const MAX_SAFE_INTEGER = Number.MAX_SAFE_INTEGER; // 2**53 - 1

/**
 * Nesting deeper than this is refused, by the encoder (NON_CANONICAL) and the decoder
 * (MALFORMED). The Python reference's bound is its interpreter's recursion limit (about 990
 * levels); no mvote record comes near either.
 */
export const MAX_DEPTH = 500;

/**
 * Integer literals with more digits than this are refused as soon as the parser meets them, as
 * CPython's int() does (its default int_max_str_digits); shorter ones out of range are refused
 * after the whole input parsed. The difference matters only to which error a broken input gets.
 */
const MAX_INT_DIGITS = 4300;

const LONE_SURROGATE = /\p{Cs}/u;
const encoder = new TextEncoder();

/** @typedef {import("./types.js").JSONValue} JSONValue */

/**
 * Canonical bytes of `value`.
 *
 * Admitted: null, booleans, safe integers (numbers or bigints), well-formed NFC strings, arrays,
 * and plain objects (prototype Object.prototype or null) with string keys. Anything else (floats,
 * NaN, undefined, Map, Date, class instances, cycles, symbol keys, too deep) is refused with
 * NON_CANONICAL naming the path ("$.choices[2]: expected an integer, got 1.5").
 *
 * @param {unknown} value
 * @param {string} [root] the name of `value` in error messages
 * @returns {Uint8Array}
 */
export function canonicalize(value, root = "$") {
  /** @type {string[]} */
  const out = [];
  write(value, root, out, new Set(), 0);
  return encoder.encode(out.join(""));
}

/**
 * @param {unknown} value
 * @param {string} path
 * @param {string[]} out
 * @param {Set<object>} open the arrays and objects being written (a cycle is refused)
 * @param {number} depth
 */
function write(value, path, out, open, depth) {
  if (value === null || value === true || value === false) {
    out.push(String(value));
  } else if (typeof value === "number" || typeof value === "bigint") {
    out.push(integerText(value, path));
  } else if (typeof value === "string") {
    checkText(value, path);
    out.push(JSON.stringify(value));
  } else if (typeof value === "object") {
    if (depth >= MAX_DEPTH) fail(NON_CANONICAL, path, `expected at most ${MAX_DEPTH} levels of nesting, got more`);
    if (open.has(value)) fail(NON_CANONICAL, path, "expected a JSON value, got a cycle");
    open.add(value);
    if (Array.isArray(value)) writeArray(value, path, out, open, depth);
    else writeObject(value, path, out, open, depth);
    open.delete(value);
  } else {
    fail(NON_CANONICAL, path, `expected a JSON value, got ${typeof value}`);
  }
}

/**
 * @param {unknown[]} value
 * @param {string} path
 * @param {string[]} out
 * @param {Set<object>} open
 * @param {number} depth
 */
function writeArray(value, path, out, open, depth) {
  out.push("[");
  for (let i = 0; i < value.length; i++) {
    if (i > 0) out.push(",");
    write(value[i], `${path}[${i}]`, out, open, depth + 1);
  }
  out.push("]");
}

/**
 * @param {object} value
 * @param {string} path
 * @param {string[]} out
 * @param {Set<object>} open
 * @param {number} depth
 */
function writeObject(value, path, out, open, depth) {
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    const kind = proto?.constructor?.name ?? "object";
    fail(NON_CANONICAL, path, `expected a JSON value, got ${kind}`);
  }
  if (Object.getOwnPropertySymbols(value).length > 0) {
    fail(NON_CANONICAL, path, "object keys must be strings, got a symbol");
  }
  const record = /** @type {Record<string, unknown>} */ (value);
  const keys = Object.keys(record).sort(); // UTF-16 code unit order, as RFC 8785 asks
  out.push("{");
  keys.forEach((key, i) => {
    checkText(key, `${path} key`);
    if (i > 0) out.push(",");
    out.push(JSON.stringify(key), ":");
    write(record[key], `${path}.${key}`, out, open, depth + 1);
  });
  out.push("}");
}

/**
 * @param {number | bigint} value
 * @param {string} path
 * @returns {string}
 */
function integerText(value, path) {
  if (typeof value === "number" && !Number.isInteger(value)) {
    fail(NON_CANONICAL, path, `expected an integer, got ${value}`);
  }
  const big = BigInt(value);
  const limit = BigInt(MAX_SAFE_INTEGER);
  if (big > limit || big < -limit) {
    fail(NON_CANONICAL, path, `integer out of the safe range +-(2**53-1), got ${big}`);
  }
  return big.toString(); // -0 is written 0, as Python's int has no negative zero
}

/**
 * @param {string} text
 * @param {string} path
 */
function checkText(text, path) {
  if (LONE_SURROGATE.test(text)) fail(NON_CANONICAL, path, "lone surrogate in text");
  if (text.normalize("NFC") !== text) fail(NON_CANONICAL, path, "text is not in Unicode NFC form");
}

/**
 * Parse canonical JSON bytes, refusing anything that `canonicalize` would not have produced.
 *
 * Throws MvoteError TOO_LARGE (more than `maxSize` bytes), MALFORMED (not UTF-8, not JSON) or
 * NON_CANONICAL (parses, but is not the one canonical encoding). Objects come back as plain
 * objects whose keys are own data properties (a "__proto__" key is an ordinary key).
 *
 * @param {Uint8Array} bytes
 * @param {{maxSize: number, what?: string}} options `what` names the input in errors
 * @returns {JSONValue}
 */
export function decodeCanonical(bytes, options) {
  const { maxSize, what = "payload" } = options ?? {};
  if (!Number.isSafeInteger(maxSize) || maxSize < 0) {
    throw new TypeError("decodeCanonical: options.maxSize must be a non-negative integer");
  }
  if (!(bytes instanceof Uint8Array)) throw new TypeError("decodeCanonical: bytes must be a Uint8Array");
  if (bytes.length > maxSize) {
    fail(TOO_LARGE, what, `expected at most ${maxSize} bytes, got ${bytes.length}`);
  }
  const text = utf8(bytes, what);
  const value = new Parser(text, what).document();
  const canonical = canonicalize(value, what);
  const at = firstDifference(canonical, bytes);
  if (at !== -1) {
    fail(NON_CANONICAL, what, `not in RFC 8785 canonical form (first difference at byte ${at})`);
  }
  return value;
}

/**
 * @param {Uint8Array} bytes
 * @param {string} what
 * @returns {string}
 */
function utf8(bytes, what) {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    fail(MALFORMED, what, `expected UTF-8 text, got an invalid sequence at byte ${firstInvalidByte(bytes)}`);
  }
}

/**
 * The offset of the first byte that makes `bytes` invalid UTF-8 (precondition: it is invalid).
 * A prefix that decodes in streaming mode is valid so far; the shortest one that does not ends
 * at the culprit. Runs only on refusals.
 * @param {Uint8Array} bytes
 * @returns {number}
 */
function firstInvalidByte(bytes) {
  let lo = 0; // longest prefix known to stream-decode
  let hi = bytes.length; // shortest prefix known not to decode (the whole input, at the end)
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    try {
      new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(0, mid), { stream: true });
      lo = mid;
    } catch {
      hi = mid;
    }
  }
  return hi - 1;
}

/**
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 * @returns {number} the first differing offset, or -1 if equal
 */
function firstDifference(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

const WHITESPACE = new Set([" ", "\t", "\n", "\r"]);
const ESCAPES = /** @type {Record<string, string>} */ ({
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
});
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;

/**
 * A JSON parser with the grammar and the order of refusals of CPython's json module as
 * encoding.decode configures it: JSON whitespace allowed (the re-encoding then differs: refused as
 * NON_CANONICAL), floats and NaN/Infinity refused (NON_CANONICAL) where they occur, duplicate keys
 * refused (NON_CANONICAL) when their object closes, everything else that is not JSON MALFORMED.
 */
class Parser {
  /**
   * @param {string} text
   * @param {string} what
   */
  constructor(text, what) {
    this.text = text;
    this.what = what;
    this.pos = 0;
  }

  /** @returns {JSONValue} */
  document() {
    this.skipSpace();
    const value = this.value(0);
    this.skipSpace();
    if (this.pos !== this.text.length) this.malformed("expected the end of the input, got extra data");
    return value;
  }

  /**
   * @param {string} text
   * @returns {never}
   */
  malformed(text) {
    throw new MvoteError(MALFORMED, `${this.what}: not JSON (${text} at char ${this.pos})`, this.what);
  }

  /**
   * @param {string} text
   * @returns {never}
   */
  nonCanonical(text) {
    throw new MvoteError(NON_CANONICAL, `${this.what}: ${text}`, this.what);
  }

  skipSpace() {
    while (this.pos < this.text.length && WHITESPACE.has(this.text[this.pos])) this.pos++;
  }

  /**
   * @param {number} depth
   * @returns {JSONValue}
   */
  value(depth) {
    const c = this.text[this.pos];
    if (c === '"') return this.string();
    if (c === "{" || c === "[") {
      if (depth >= MAX_DEPTH) this.malformed(`expected at most ${MAX_DEPTH} levels of nesting, got more`);
      return c === "{" ? this.object(depth + 1) : this.array(depth + 1);
    }
    for (const [literal, result] of /** @type {[string, JSONValue][]} */ ([["null", null], ["true", true], ["false", false]])) {
      if (this.text.startsWith(literal, this.pos)) {
        this.pos += literal.length;
        return result;
      }
    }
    for (const constant of ["NaN", "Infinity", "-Infinity"]) {
      if (this.text.startsWith(constant, this.pos)) this.nonCanonical(`expected a JSON value, got ${constant}`);
    }
    return this.number();
  }

  /** @returns {number} */
  number() {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (match === null) this.malformed("expected a value");
    const literal = match[0];
    if (match[1] !== undefined || match[2] !== undefined) {
      this.nonCanonical(`expected an integer, got the number ${literal}`);
    }
    const digits = literal.startsWith("-") ? literal.length - 1 : literal.length;
    if (digits > MAX_INT_DIGITS) {
      this.nonCanonical(`integer out of the safe range +-(2**53-1) (${digits} digits)`);
    }
    this.pos += literal.length;
    return Number(literal); // out of range: refused by the re-encoding, after the whole parse
  }

  /** @returns {string} */
  string() {
    this.pos++; // the opening quote
    let out = "";
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) this.malformed("unterminated string");
      if (c === '"') break;
      if (c < " ") this.malformed("invalid control character in string");
      if (c === "\\") {
        out += this.escape();
      } else {
        out += c;
        this.pos++;
      }
    }
    this.pos++; // the closing quote
    return out;
  }

  /** @returns {string} the character an escape stands for (a lone surrogate code unit kept) */
  escape() {
    const c = this.text[this.pos + 1];
    if (c === undefined) this.malformed("unterminated string");
    if (c === "u") {
      const hex = this.text.slice(this.pos + 2, this.pos + 6);
      if (!HEX4.test(hex)) this.malformed("invalid \\uXXXX escape");
      this.pos += 6;
      return String.fromCharCode(parseInt(hex, 16));
    }
    const plain = ESCAPES[c];
    if (plain === undefined) this.malformed("invalid \\escape");
    this.pos += 2;
    return plain;
  }

  /**
   * @param {number} depth
   * @returns {JSONValue[]}
   */
  array(depth) {
    this.pos++;
    /** @type {JSONValue[]} */
    const items = [];
    this.skipSpace();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return items;
    }
    for (;;) {
      this.skipSpace();
      items.push(this.value(depth));
      this.skipSpace();
      const c = this.text[this.pos++];
      if (c === "]") return items;
      if (c !== ",") this.malformed("expected ',' or ']'");
    }
  }

  /**
   * @param {number} depth
   * @returns {{[key: string]: JSONValue}}
   */
  object(depth) {
    this.pos++;
    /** @type {[string, JSONValue][]} */
    const pairs = [];
    this.skipSpace();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return {};
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] !== '"') this.malformed("expected a property name in double quotes");
      const key = this.string();
      this.skipSpace();
      if (this.text[this.pos++] !== ":") this.malformed("expected ':'");
      this.skipSpace();
      pairs.push([key, this.value(depth)]);
      this.skipSpace();
      const c = this.text[this.pos++];
      if (c === "}") return this.build(pairs);
      if (c !== ",") this.malformed("expected ',' or '}'");
    }
  }

  /**
   * @param {[string, JSONValue][]} pairs
   * @returns {{[key: string]: JSONValue}}
   */
  build(pairs) {
    /** @type {{[key: string]: JSONValue}} */
    const result = {};
    for (const [key, value] of pairs) {
      if (Object.hasOwn(result, key)) this.nonCanonical(`duplicate key ${JSON.stringify(key)}`);
      Object.defineProperty(result, key, { value, enumerable: true, writable: true, configurable: true });
    }
    return result;
  }
}
