// Every vector of tests/vectors/ that concerns ballot preparation, checked byte for byte.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";

import * as nodeCrypto from "../src/crypto-node.js";
import * as webCrypto from "../src/crypto-web.js";
import {
  MvoteError,
  canonicalize,
  decodeCanonical,
  keyFromSeed,
  onsiteCodeHash,
  prepareBallot,
  questionBinding,
  questionHash,
  publicKeyHex,
  shardOf,
  tracker,
  verifyBallotSignature,
  verifyCredential,
  voterHash,
} from "../src/index.js";
import { bytes, hex, vectors } from "./vectors.js";

const MIB = 1 << 20;

test("canonical_encoding.json: value -> bytes -> value, and the SHA-256", () => {
  for (const v of vectors("canonical_encoding.json")) {
    const encoded = canonicalize(v.value);
    assert.equal(hex(encoded), v.canonical_hex, v.name);
    assert.equal(createHash("sha256").update(encoded).digest("hex"), v.sha256, v.name);
    assert.deepEqual(decodeCanonical(bytes(v.canonical_hex), { maxSize: MIB }), v.value, v.name);
  }
});

test("rejected_encodings.json: every input refused with its code", () => {
  for (const v of vectors("rejected_encodings.json")) {
    assert.throws(
      () => decodeCanonical(bytes(v.input_hex), { maxSize: v.max_size ?? MIB }),
      (err) => err instanceof MvoteError && err.code === v.error && err.field === "payload" && err.message.startsWith("payload: "),
      v.name,
    );
  }
});

test("ballots.json (mvote-1): canonical bytes, tracker, signature verified", async () => {
  for (const v of vectors("ballots.json")) {
    const f = v.fields;
    assert.equal(hex(canonicalize(f)), v.canonical_hex);
    assert.equal(await tracker(bytes(v.canonical_hex)), v.tracker);
    assert.equal(await verifyBallotSignature(f, v.sig), v.tracker);
  }
});

test("ballots_v2.json: question binding and hash; prepared ballot = fields, bytes, tracker, signature", async () => {
  for (const v of vectors("ballots_v2.json")) {
    assert.deepEqual(questionBinding(v.question), v.binding);
    assert.equal(hex(canonicalize(questionBinding(v.question))), v.binding_canonical_hex);
    assert.equal(await questionHash(v.question), v.question_hash);
    const key = await keyFromSeed(bytes(v.voter_seed_hex));
    const f = v.fields;
    const prepared = await prepareBallot({ channel: f.channel, question: v.question, choices: [...f.choices].reverse() }, key);
    assert.deepEqual(prepared.fields, f);
    assert.equal(hex(prepared.canonicalBytes), v.canonical_hex);
    assert.equal(prepared.tracker, v.tracker);
    assert.equal(await tracker(bytes(v.canonical_hex)), v.tracker);
    assert.equal(prepared.signature, v.sig);
    assert.equal(await verifyBallotSignature(f, v.sig), v.tracker);
    const request = decodeCanonical(prepared.requestBytes, { maxSize: 16 << 10, what: "request" });
    assert.deepEqual(request, { ballot: f, sig: v.sig, credential: null, code: null });
  }
});

test("signatures.json: seed -> public key -> signature, through both crypto backends", async () => {
  for (const backend of [nodeCrypto, webCrypto]) {
    for (const v of vectors("signatures.json")) {
      const signer = await backend.ed25519Signer(bytes(v.seed_hex));
      assert.equal(hex(signer.publicKey), v.public_key_hex);
      assert.equal(hex(await signer.sign(bytes(v.message_hex))), v.signature_hex);
      assert.equal(await backend.ed25519Verify(signer.publicKey, bytes(v.message_hex), bytes(v.signature_hex)), true);
      const other = bytes(v.message_hex + "00");
      assert.equal(await backend.ed25519Verify(signer.publicKey, other, bytes(v.signature_hex)), false);
    }
  }
  for (const v of vectors("signatures.json")) {
    assert.equal(publicKeyHex(await keyFromSeed(bytes(v.seed_hex))), v.public_key_hex);
  }
});

test("credentials.json: canonical body and a registrar signature that verifies", async () => {
  for (const v of vectors("credentials.json")) {
    assert.equal(hex(canonicalize(v.body)), v.canonical_hex);
    const registrar = await keyFromSeed(bytes(v.registrar_seed_hex));
    assert.equal(publicKeyHex(registrar), v.body.registrar);
    assert.equal(hex(await registrar.sign(bytes(v.canonical_hex))), v.sig);
    const signed = { body: v.body, sig: v.sig };
    await verifyCredential(signed, { registrars: [v.body.registrar], voter: v.body.voter, channel: v.body.channel, now: v.body.expires_at - 1 });
    await assert.rejects(verifyCredential(signed, { now: v.body.expires_at }), { code: "BAD_CREDENTIAL", field: "credential.body.expires_at" });
    const forged = { body: { ...v.body, expires_at: v.body.expires_at + 1 }, sig: v.sig };
    await assert.rejects(verifyCredential(forged), { code: "BAD_SIGNATURE", field: "credential.sig" });
  }
});

test("voter_hash.json: voter hash and shard for every shard count", async () => {
  for (const v of vectors("voter_hash.json")) {
    const key = await keyFromSeed(bytes(v.seed_hex));
    assert.equal(publicKeyHex(key), v.public_key_hex);
    assert.equal(await voterHash(key.publicKey), v.voter_hash);
    assert.equal(await voterHash(v.public_key_hex), v.voter_hash);
    for (const [n, shard] of Object.entries(v.shards)) {
      assert.equal(shardOf(v.voter_hash, Number(n)), shard, `shards=${n}`);
      assert.equal(shardOf(bytes(v.voter_hash), Number(n)), shard, `shards=${n}`);
    }
  }
});

test("hash inputs of the wrong size or type are refused with INVALID_FIELD", async () => {
  await assert.rejects(voterHash(new Uint8Array(31)), { code: "INVALID_FIELD", field: "voter" });
  await assert.rejects(voterHash(null), { code: "INVALID_FIELD", field: "voter" });
  assert.throws(() => shardOf("00", 2), { code: "INVALID_FIELD", field: "voter_hash" });
  assert.throws(() => shardOf("00".repeat(32), 0), { code: "INVALID_FIELD", field: "shards" });
  assert.throws(() => shardOf("00".repeat(32), 1025), { code: "INVALID_FIELD", field: "shards" });
  await assert.rejects(onsiteCodeHash("00".repeat(15), "q1", "abcd"), { code: "INVALID_FIELD", field: "code_salt" });
});

test("onsite_code.json: code hash", async () => {
  for (const v of vectors("onsite_code.json")) {
    assert.equal(await onsiteCodeHash(v.salt_hex, v.qid, v.code), v.code_hash);
    assert.equal(await onsiteCodeHash(bytes(v.salt_hex), v.qid, v.code), v.code_hash);
  }
});

test("roster_digest.json: canonical batch bytes and the digest chain", () => {
  let before = "00".repeat(32);
  for (const v of vectors("roster_digest.json")) {
    assert.equal(v.before, before);
    const batch = canonicalize(v.entries);
    assert.equal(hex(batch), v.batch_canonical_hex);
    const batchHash = createHash("sha256").update(batch).digest();
    before = createHash("sha256").update(Buffer.concat([bytes(v.before), batchHash])).digest("hex");
    assert.equal(before, v.after);
  }
});
