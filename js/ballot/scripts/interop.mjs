#!/usr/bin/env node
// The JavaScript side of tests/interop/test_js_ballot.py: reads {"op", "items"} as JSON on stdin,
// applies @mvote/ballot to every item and writes one JSON array of results on stdout. A refusal
// is a result ({"error": code, "field", "message"}), so Python can compare refusals too.
import { readFileSync } from "node:fs";

import { canonicalize, checkedPublicKey, decodeCanonical, keyFromSeed, prepareBallot, verifyBallotSignature } from "../src/index.js";

const hex = (data) => Buffer.from(data).toString("hex");
const bytes = (text) => Uint8Array.from(Buffer.from(text, "hex"));
const MIB = 1 << 20;

const OPS = {
  /** item: a JSON text (ASCII, as Python's json.dumps writes it) */
  canonicalize: async (text) => ({ hex: hex(canonicalize(JSON.parse(text))) }),
  /** item: hex of the input bytes */
  decode: async (input) => ({ hex: hex(canonicalize(decodeCanonical(bytes(input), { maxSize: MIB }))) }),
  /** item: hex of a would-be public key */
  validKey: async (key) => ({ hex: hex(checkedPublicKey(key, "key")) }),
  /** item: {fields, sig} */
  verify: async ({ fields, sig }) => ({ tracker: await verifyBallotSignature(fields, sig) }),
  /** item: {seed_hex, input}: input as prepareBallot takes it */
  prepare: async ({ seed_hex, input }) => {
    const prepared = await prepareBallot(input, await keyFromSeed(bytes(seed_hex)));
    return {
      fields: prepared.fields,
      canonical_hex: hex(prepared.canonicalBytes),
      tracker: prepared.tracker,
      signature: prepared.signature,
      request_hex: hex(prepared.requestBytes),
    };
  },
};

const { op, items } = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const item of items) {
  try {
    results.push(await OPS[op](item));
  } catch (err) {
    if (typeof err?.code !== "string" || err.name !== "MvoteError") throw err;
    results.push({ error: err.code, field: err.field, message: err.message });
  }
}
process.stdout.write(JSON.stringify(results));
