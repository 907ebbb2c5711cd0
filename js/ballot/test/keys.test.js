// Public keys and signatures with libsodium's strictness (the contract's), on any backend.
import assert from "node:assert/strict";
import { test } from "node:test";

import { checkedPublicKey, keyFromSeed, prepareBallot, publicKeyHex, verifyBallotSignature } from "../src/index.js";
import { L } from "../src/point.js";
import { bytes, hex } from "./vectors.js";

const P = 2n ** 255n - 19n;
const le = (n) => hex(Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn)));

// The same points as tests/unit/chaincode/test_contract_cast.py.
const SMALL_ORDER = [
  "0100000000000000000000000000000000000000000000000000000000000000",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0000000000000000000000000000000000000000000000000000000000000080",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
];
const NON_CANONICAL = [le(P), le(P + 1n), le(2n ** 255n - 1n), "0100000000000000000000000000000000000000000000000000000000000080"];
const MIXED_ORDER = "63771c228bf60e6a02ad24d2c345a28d3598f640e26bede40c8b77fe4bf090a3";
const NOT_ON_CURVE = "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d";

test("checkedPublicKey refuses small-order, non-canonical, mixed-order and off-curve keys", async () => {
  for (const key of [...SMALL_ORDER, ...NON_CANONICAL, MIXED_ORDER, NOT_ON_CURVE]) {
    assert.throws(() => checkedPublicKey(key, "ballot.voter"), { code: "INVALID_KEY", field: "ballot.voter" }, key);
  }
  assert.throws(() => checkedPublicKey("AB".repeat(32), "ballot.voter"), { code: "INVALID_FIELD" });
  assert.throws(() => checkedPublicKey("ab", "ballot.voter"), { code: "INVALID_FIELD" });
  for (let i = 1; i <= 20; i++) {
    const key = await keyFromSeed(new Uint8Array(32).fill(i));
    assert.equal(hex(checkedPublicKey(publicKeyHex(key), "k")), publicKeyHex(key));
  }
});

test("verifyBallotSignature: a non-canonical S (S + L) and a small-order R are refused", async () => {
  const key = await keyFromSeed(new Uint8Array(32).fill(7));
  const ballot = await prepareBallot({ channel: "mvote", qid: "q1", questionHash: "ab".repeat(32), choices: [1] }, key);
  const sig = bytes(ballot.signature);
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]);
  const malleable = ballot.signature.slice(0, 64) + le(s + L);
  await assert.rejects(verifyBallotSignature(ballot.fields, malleable), { code: "BAD_SIGNATURE", field: "sig" });
  const smallR = SMALL_ORDER[0] + ballot.signature.slice(64);
  await assert.rejects(verifyBallotSignature(ballot.fields, smallR), { code: "BAD_SIGNATURE", field: "sig" });
  const other = { ...ballot.fields, choices: [2] };
  await assert.rejects(verifyBallotSignature(other, ballot.signature), { code: "BAD_SIGNATURE", field: "sig" });
  await assert.rejects(verifyBallotSignature({ ...ballot.fields, voter: SMALL_ORDER[0] }, ballot.signature), { code: "INVALID_KEY", field: "ballot.voter" });
  assert.equal(await verifyBallotSignature(ballot.fields, ballot.signature), ballot.tracker);
});

test("keyFromSeed refuses anything but 32 bytes", async () => {
  await assert.rejects(keyFromSeed(new Uint8Array(31)), { code: "INVALID_FIELD", field: "seed" });
  await assert.rejects(keyFromSeed("00".repeat(32)), { code: "INVALID_FIELD", field: "seed" });
});
