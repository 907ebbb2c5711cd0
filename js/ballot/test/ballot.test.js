// prepareBallot: the fields the contract would refuse are refused first, with its codes and paths.
import assert from "node:assert/strict";
import { test } from "node:test";

import { decodeCanonical, issueCredential, keyFromSeed, onsiteCodeHash, prepareBallot, publicKeyHex } from "../src/index.js";

const voter = await keyFromSeed(new Uint8Array(32).fill(1));
const registrar = await keyFromSeed(new Uint8Array(32).fill(0x52));
const eligibility = { kind: "roster", roster: "r1" };
const question = (rule, options = ["a", "b", "c", "d"], extra = {}) => ({ qid: "q1", title: "Q", options, rule, eligibility, mode: "open", ...extra });
/** A question hash, for the inputs that give the question id alone. */
const questionHash = "ab".repeat(32);

test("choices are sent ascending; duplicates and non-indexes are refused", async () => {
  const p = await prepareBallot({ channel: "mvote", qid: "q1", questionHash, choices: [3, 0, 2] }, voter);
  assert.deepEqual(p.fields.choices, [0, 2, 3]);
  await assert.rejects(prepareBallot({ channel: "mvote", qid: "q1", questionHash, choices: [1, 1] }, voter), { code: "INVALID_FIELD", field: "choices" });
  await assert.rejects(prepareBallot({ channel: "mvote", qid: "q1", questionHash, choices: [1.5] }, voter), { code: "INVALID_FIELD", field: "choices[0]" });
  await assert.rejects(prepareBallot({ channel: "mvote", qid: "q1", questionHash, choices: [1000] }, voter), { code: "INVALID_FIELD", field: "choices[0]" });
  await assert.rejects(prepareBallot({ channel: "mvote", qid: "q1", questionHash, choices: "0" }, voter), { code: "INVALID_FIELD", field: "choices" });
});

test("channel, qid, code and credential are checked as the contract checks them", async () => {
  const cases = [
    [{ channel: "Mvote", qid: "q1", questionHash }, "ballot.channel"],
    [{ channel: "", qid: "q1", questionHash }, "ballot.channel"],
    [{ channel: "mvote", qid: "Q1", questionHash }, "ballot.qid"],
    [{ channel: "mvote", qid: "q".repeat(65), questionHash }, "ballot.qid"],
    [{ channel: "mvote", questionHash }, "ballot.qid"],
    [{ channel: "mvote", qid: "q1" }, "question"],
    [{ channel: "mvote", qid: "q1", questionHash: "ab" }, "questionHash"],
    [{ channel: "mvote", qid: "q1", questionHash, code: "abc" }, "code"],
    [{ channel: "mvote", qid: "q1", questionHash, code: "ab c1" }, "code"],
    [{ channel: "mvote", qid: "q1", questionHash, credential: { body: {}, sig: "00" } }, "credential.body.type"],
  ];
  for (const [input, field] of cases) {
    await assert.rejects(prepareBallot({ choices: [0], ...input }, voter), { code: "INVALID_FIELD", field }, field);
  }
});

test("with the question: its rule decides how many choices, its options which", async () => {
  const single = question({ kind: "single" });
  await assert.rejects(prepareBallot({ channel: "mvote", question: single, choices: [0, 1] }, voter), { code: "RULE_VIOLATION", field: "ballot.choices" });
  await assert.rejects(prepareBallot({ channel: "mvote", question: single, choices: [] }, voter), { code: "RULE_VIOLATION", field: "ballot.choices" });
  await assert.rejects(prepareBallot({ channel: "mvote", question: single, choices: [4] }, voter), { code: "RULE_VIOLATION", field: "ballot.choices[0]" });
  const multi = question({ kind: "multi", min: 0, max: 2 });
  assert.deepEqual((await prepareBallot({ channel: "mvote", question: multi, choices: [] }, voter)).fields.choices, []);
  assert.deepEqual((await prepareBallot({ channel: "mvote", question: multi, choices: [3, 1] }, voter)).fields.choices, [1, 3]);
  await assert.rejects(prepareBallot({ channel: "mvote", question: multi, choices: [0, 1, 2] }, voter), /ballot.choices: expected 0 to 2 selections, got 3/);
  const yesno = question({ kind: "yesno", threshold_bp: 5000, min_turnout: { kind: "none" } }, ["yes", "no"]);
  assert.equal((await prepareBallot({ channel: "mvote", question: yesno, choices: [1] }, voter)).fields.qid, "q1");
  await assert.rejects(prepareBallot({ channel: "mvote", question: single, qid: "q2", choices: [0] }, voter), { code: "INVALID_FIELD", field: "qid" });
});

test("the ballot binds the question: other labels, another rule or title, another hash", async () => {
  const single = question({ kind: "single" });
  const bound = (await prepareBallot({ channel: "mvote", question: single, choices: [0] }, voter)).fields;
  assert.equal(bound.type, "mvote.ballot.v2");
  for (const forged of [
    question({ kind: "single" }, ["b", "a", "c", "d"]),
    question({ kind: "multi", min: 1, max: 1 }),
    question({ kind: "single" }, undefined, { title: "Another" }),
    question({ kind: "single" }, undefined, { eligibility: { kind: "roster", roster: "r2" } }),
  ]) {
    const other = (await prepareBallot({ channel: "mvote", question: forged, choices: [0] }, voter)).fields;
    assert.notEqual(other.question, bound.question);
  }
  // The description and schedule are not bound.
  const described = question({ kind: "single" }, undefined, { description: "more", schedule: { opens_at: 1, closes_at: 2 } });
  assert.equal((await prepareBallot({ channel: "mvote", question: described, choices: [0] }, voter)).fields.question, bound.question);
  await assert.rejects(prepareBallot({ channel: "mvote", question: single, questionHash, choices: [0] }, voter), { code: "INVALID_FIELD", field: "questionHash" });
});

test("secret ballots are refused with UNSUPPORTED, saying what to use instead", async () => {
  const secret = question({ kind: "single" }, ["a", "b"], { mode: "secret", election: "e1" });
  await assert.rejects(prepareBallot({ channel: "mvote", question: secret, choices: [0] }, voter), { code: "UNSUPPORTED", field: "question.mode", message: /Python client/ });
  await assert.rejects(prepareBallot({ channel: "mvote", qid: "q1", questionHash, choices: [0], mode: "secret" }, voter), { code: "UNSUPPORTED", field: "mode" });
});

test("credential and on-site code travel in the Cast request, unchanged", async () => {
  const credential = await issueCredential({ channel: "mvote", voter: publicKeyHex(voter), expiresAt: 2000000000 }, registrar);
  const p = await prepareBallot({ channel: "mvote", qid: "q1", questionHash, choices: [0], credential, code: "SITE-4242" }, voter);
  const request = decodeCanonical(p.requestBytes, { maxSize: 16 << 10, what: "request" });
  assert.deepEqual(request, { ballot: p.fields, sig: p.signature, credential, code: "SITE-4242" });
  assert.equal(p.cast.function, "Cast");
  assert.equal(p.cast.args[0], p.requestBytes);
  assert.match(await onsiteCodeHash("00".repeat(16), "q1", "SITE-4242"), /^831067da/);
});

test("a key that is not a signing key is refused", async () => {
  await assert.rejects(prepareBallot({ channel: "mvote", qid: "q1", questionHash, choices: [0] }, { publicKey: new Uint8Array(32) }), { code: "INVALID_FIELD", field: "key" });
});

test("inputs of the wrong type are refused, not crashed on", async () => {
  for (const input of [undefined, null, "q1", 7]) {
    await assert.rejects(prepareBallot(input, voter), { code: "INVALID_FIELD", field: "input" });
  }
});
