// canonicalize / decodeCanonical beyond the vectors: what each refuses, with which code and field,
// and seeded random values that round-trip.
import assert from "node:assert/strict";
import { test } from "node:test";

import { MAX_DEPTH, MvoteError, canonicalize, decodeCanonical } from "../src/index.js";

const enc = new TextEncoder();
const MIB = 1 << 20;

/** @param {string} code @param {string} field */
const refusal = (code, field) => (err) => err instanceof MvoteError && err.code === code && err.field === field && err.message.startsWith(`${field}: `);

test("canonicalize refuses what the Python encoder refuses, naming the path", () => {
  const cases = [
    [{ a: 1.5 }, "$.a", /expected an integer, got 1.5/],
    [[NaN], "$[0]", /expected an integer, got NaN/],
    [[Infinity], "$[0]", /expected an integer/],
    [{ n: 2 ** 53 }, "$.n", /safe range/],
    [{ n: -(2 ** 53) }, "$.n", /safe range/],
    [{ n: 2n ** 53n }, "$.n", /safe range/],
    [{ t: "e\u0301" }, "$.t", /NFC/],
    [{ "e\u0301": 1 }, "$ key", /NFC/],
    [["\ud800"], "$[0]", /lone surrogate/],
    [{ u: undefined }, "$.u", /got undefined/],
    [[() => 1], "$[0]", /got function/],
    [{ m: new Map() }, "$.m", /got Map/],
    [{ d: new Date(0) }, "$.d", /got Date/],
    [{ [Symbol("s")]: 1 }, "$", /symbol/],
    [[1, , 3], "$[1]", /got undefined/], // eslint-disable-line no-sparse-arrays
  ];
  for (const [value, path, message] of cases) {
    assert.throws(() => canonicalize(value), refusal("NON_CANONICAL", path), path);
    assert.throws(() => canonicalize(value), message, path);
  }
});

test("canonicalize refuses cycles and nesting deeper than MAX_DEPTH", () => {
  const cyclic = { a: [] };
  cyclic.a.push(cyclic);
  assert.throws(() => canonicalize(cyclic), refusal("NON_CANONICAL", "$.a[0]"));
  let deep = [];
  for (let i = 0; i < MAX_DEPTH; i++) deep = [deep];
  assert.throws(() => canonicalize(deep), { code: "NON_CANONICAL" });
  assert.equal(canonicalize(deep[0]).length, 2 * MAX_DEPTH);
});

test("canonicalize: -0, bigints, null-prototype objects, __proto__ keys, repeated (not cyclic) values", () => {
  assert.equal(new TextDecoder().decode(canonicalize(-0)), "0");
  assert.equal(new TextDecoder().decode(canonicalize([5n, -(2n ** 53n - 1n)])), "[5,-9007199254740991]");
  const bare = Object.create(null);
  bare.b = 1;
  bare.a = 2;
  assert.equal(new TextDecoder().decode(canonicalize(bare)), '{"a":2,"b":1}');
  const parsed = JSON.parse('{"__proto__":1,"z":2}');
  assert.equal(new TextDecoder().decode(canonicalize(parsed)), '{"__proto__":1,"z":2}');
  const shared = [1];
  assert.equal(new TextDecoder().decode(canonicalize({ a: shared, b: shared })), '{"a":[1],"b":[1]}');
});

test("decodeCanonical refuses in the reference's order: first problem met, deferred checks last", () => {
  const cases = [
    ["[1.5,", "NON_CANONICAL"], // a float refuses at once, before the truncation
    ['{"a":1,"a":2}x', "NON_CANONICAL"], // duplicates refuse when the object closes
    ['{"a":1,"a":2', "MALFORMED"], // ... which it never does
    ["[9007199254740992", "MALFORMED"], // range is checked after a whole parse
    ["9007199254740992 ", "NON_CANONICAL"],
    ["-" + "1".repeat(4301) + "x", "NON_CANONICAL"], // too many digits refuse at once
    ["1".repeat(4300) + "x", "MALFORMED"],
    ["-", "MALFORMED"],
    ["1.", "MALFORMED"],
    ["1e", "MALFORMED"],
    ["1.5e", "NON_CANONICAL"],
    ["-Infinity", "NON_CANONICAL"],
    ["-Inf", "MALFORMED"],
    ['"\\u12"', "MALFORMED"],
    ['"a\u0001"', "MALFORMED"],
    ['"\\x"', "MALFORMED"],
    ['"\\ud83d\\ude00"', "NON_CANONICAL"],
    ['"\ud83d\ude00"', null],
    ['{"__proto__":[]}', null],
    ["[1,]", "MALFORMED"],
    ['{"a":1,}', "MALFORMED"],
    ["[" .repeat(MAX_DEPTH + 1) + "]".repeat(MAX_DEPTH + 1), "MALFORMED"],
    ["[".repeat(MAX_DEPTH) + "]".repeat(MAX_DEPTH), null],
  ];
  for (const [input, code] of cases) {
    const run = () => decodeCanonical(enc.encode(input), { maxSize: MIB, what: "request" });
    if (code === null) assert.equal(new TextDecoder().decode(canonicalize(run())), input);
    else assert.throws(run, refusal(code, "request"), input.slice(0, 40));
  }
});

test("decodeCanonical: a __proto__ key is an own key, not a prototype", () => {
  const value = decodeCanonical(enc.encode('{"__proto__":{"x":1}}'), { maxSize: MIB });
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
  assert.deepEqual(Object.keys(value), ["__proto__"]);
  assert.equal(value.x, undefined);
});

test("decodeCanonical: size limit, bad UTF-8 offset, maxSize required", () => {
  assert.throws(() => decodeCanonical(enc.encode('"abc"'), { maxSize: 4 }), /payload: expected at most 4 bytes, got 5/);
  assert.equal(decodeCanonical(enc.encode('"abc"'), { maxSize: 5 }), "abc");
  assert.throws(() => decodeCanonical(Uint8Array.from([0x22, 0x61, 0xff, 0x22]), { maxSize: MIB }), /at byte 2/);
  assert.throws(() => decodeCanonical(enc.encode("1")), TypeError);
});

/** A seeded PRNG (mulberry32): reproducible random values. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ["a", "Z", "0", " ", '"', "\\", "/", "\n", "\u0000", "\u001f", "\u007f", "é", "中", "\u2028", "😀", "\ufffd", "ÿ"];

function randomValue(rand, depth) {
  const pick = Math.floor(rand() * (depth > 3 ? 4 : 6));
  if (pick === 0) return [null, true, false][Math.floor(rand() * 3)];
  if (pick === 1) {
    const scale = [10, 1e6, Number.MAX_SAFE_INTEGER][Math.floor(rand() * 3)];
    return Math.round((rand() * 2 - 1) * scale) + 0; // + 0: no negative zero
  }
  if (pick <= 3) return Array.from({ length: Math.floor(rand() * 6) }, () => ALPHABET[Math.floor(rand() * ALPHABET.length)]).join("");
  if (pick === 4) return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(rand, depth + 1));
  const out = {};
  for (let i = Math.floor(rand() * 4); i > 0; i--) out[randomValue(rand, 9)] = randomValue(rand, depth + 1);
  return out;
}

test("random values round-trip: decode(canonicalize(v)) = v, and the bytes are JSON.parse-able", () => {
  const rand = prng(14);
  for (let i = 0; i < 3000; i++) {
    const value = randomValue(rand, 0);
    const bytes = canonicalize(value);
    assert.deepEqual(decodeCanonical(bytes, { maxSize: MIB }), value);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(bytes)), value);
  }
});

test("random one-byte changes of canonical bytes never decode to a different value silently", () => {
  const rand = prng(8785);
  for (let i = 0; i < 3000; i++) {
    const bytes = canonicalize(randomValue(rand, 0));
    const mutated = Uint8Array.from(bytes);
    mutated[Math.floor(rand() * mutated.length)] = Math.floor(rand() * 256);
    let decoded;
    try {
      decoded = decodeCanonical(mutated, { maxSize: MIB });
    } catch (err) {
      assert.ok(err instanceof MvoteError && ["MALFORMED", "NON_CANONICAL"].includes(err.code), String(err));
      continue;
    }
    assert.deepEqual(canonicalize(decoded), mutated); // accepted only if it is canonical itself
  }
});
