// @ts-check
/**
 * Ballot preparation on the voter's device (mvote/client/_ballot.py is the reference): check the
 * choices, build the ballot, sign its canonical bytes, and build the one argument of the
 * contract's `Cast`, byte for byte what the Python client submits.
 *
 * Contract mvote-2: the ballot (mvote.ballot.v2) binds `question`, the SHA-256 of the question
 * record's binding (records.question_binding: qid, title, option labels, rule, eligibility, mode,
 * election key), so a ballot prepared against a forged question is refused at Cast
 * (QUESTION_MISMATCH). Give `question` (the record, as GetQuestion returns it, read from a source
 * you trust) or its `questionHash`.
 *
 * Open ballots only. Secret ballots (encrypted, with zero-knowledge proofs) are refused with
 * UNSUPPORTED: prepare them with the Python client (`mvote vote`).
 */

import { canonicalize } from "./canonical.js";
import { checkSignedCredential } from "./credential.js";
import { INVALID_FIELD, RULE_VIOLATION, UNSUPPORTED, fail } from "./errors.js";
import * as field from "./fields.js";
import { sha256 } from "#crypto";
import { tracker } from "./hashes.js";
import { fromHex, toHex, typeName } from "./hex.js";
import { checkedPublicKey, publicKeyHex, verifySignature } from "./keys.js";

/** The open ballot contract mvote-2 accepts: it binds the question record's hash. */
export const BALLOT_TYPE = "mvote.ballot.v2";
/** The open ballot of contract mvote-1 (no question binding): verified, never prepared. */
export const BALLOT_V1_TYPE = "mvote.ballot.v1";
export const QUESTION_BINDING_TYPE = "mvote.question-binding.v1";
export const SECRET_BALLOT_TYPE = "mvote.secret-ballot.v1";
/** Options a question may have; choices are indexes 0..MAX_OPTIONS-1. */
export const MAX_OPTIONS = 1000;
/** The contract's limit on an open ballot's Cast argument (contract.py MAX_CAST_BYTES). */
export const MAX_CAST_BYTES = 16 << 10;

const SECRET_REFUSAL =
  "secret ballots (encrypted, with proofs) are not supported by @mvote/ballot; prepare them with the Python client (mvote vote)";

/**
 * @typedef {import("./canonical.js").JSONValue} JSONValue
 * @typedef {import("./keys.js").SigningKey} SigningKey
 * @typedef {import("./credential.js").SignedCredential} SignedCredential
 *
 * @typedef {object} BallotFields what the voter signs
 * @property {"mvote.ballot.v2" | "mvote.ballot.v1"} type
 * @property {string} channel
 * @property {string} qid
 * @property {number[]} choices ascending option indexes
 * @property {string} voter the voter's public key, hex
 * @property {string} [question] the question hash the ballot binds (mvote.ballot.v2), hex
 *
 * @typedef {object} CastRequest the argument of Cast, as JSON
 * @property {BallotFields} ballot
 * @property {string} sig the voter's Ed25519 signature of the ballot's canonical bytes, hex
 * @property {SignedCredential | null} credential a registrar credential (open eligibility)
 * @property {string | null} code the on-site code (on-site questions)
 *
 * @typedef {object} PreparedBallot
 * @property {BallotFields} fields the ballot
 * @property {Uint8Array} canonicalBytes its canonical bytes: what the voter signed
 * @property {string} tracker SHA-256 of canonicalBytes, hex: the voter's handle on the ledger
 * @property {string} signature the voter's signature, hex
 * @property {CastRequest} request the Cast request as JSON
 * @property {Uint8Array} requestBytes its canonical bytes: the one argument an integrator submits
 * @property {{function: "Cast", args: [Uint8Array]}} cast the chaincode invocation
 *
 * @typedef {object} BallotInput
 * @property {string} channel the channel the ballot is cast on (signed: binds the ballot to it)
 * @property {string} [qid] the question id (optional when `question` is given)
 * @property {Record<string, unknown>} [question] the question record or spec (as GetQuestion
 *   returns it): the ballot binds its hash, and the choices are checked against its options and
 *   rule before signing
 * @property {string} [questionHash] instead of `question`: the question hash to bind (hex)
 * @property {number[]} choices option indexes, in any order, each once
 * @property {SignedCredential | null} [credential] for questions with open eligibility
 * @property {string | null} [code] for on-site questions
 * @property {"open" | "secret"} [mode] "secret" is refused (UNSUPPORTED)
 */

/**
 * A signed Cast request for `choices`. Throws MvoteError: INVALID_FIELD (a field the contract
 * would refuse), RULE_VIOLATION (choices the question's rule refuses), UNSUPPORTED (secret).
 *
 * @param {BallotInput} input
 * @param {SigningKey} key the voter's key (keyFromSeed)
 * @returns {Promise<PreparedBallot>}
 */
export async function prepareBallot(input, key) {
  if (typeof input !== "object" || input === null) fail(INVALID_FIELD, "input", `expected an object, got ${typeName(input)}`);
  const { channel, question, credential = null, code = null, mode = "open" } = input;
  if (mode === "secret") fail(UNSUPPORTED, "mode", SECRET_REFUSAL);
  if (mode !== "open") fail(INVALID_FIELD, "mode", `expected "open", got ${JSON.stringify(mode)}`);
  checkKey(key);
  const qid = question === undefined ? input.qid : questionId(question, input.qid);
  const choices = orderedChoices(input.choices);
  if (question !== undefined) checkChoices(question, choices);
  const bound = await boundHash(question, input.questionHash);
  /** @type {BallotFields} */
  const fields = { type: BALLOT_TYPE, channel, qid: /** @type {string} */ (qid), choices, voter: publicKeyHex(key), question: bound };
  checkBallotFields(fields);
  const request = castRequest(fields, "", credential, code); // checks the eligibility parts
  const canonicalBytes = canonicalize(fields, "ballot");
  const signature = toHex(await key.sign(canonicalBytes));
  request.sig = signature;
  const requestBytes = canonicalize(request, "request");
  return {
    fields,
    canonicalBytes,
    tracker: await tracker(canonicalBytes),
    signature,
    request,
    requestBytes,
    cast: { function: "Cast", args: [requestBytes] },
  };
}

/**
 * What a mvote.ballot.v2 ballot binds of its question (records.question_binding): the record's
 * own rule and eligibility JSON, mode, and the election key (null: open ballots only here).
 * @param {Record<string, unknown>} question the question record or spec
 * @returns {Record<string, JSONValue>}
 */
export function questionBinding(question) {
  if (typeof question !== "object" || question === null) fail(INVALID_FIELD, "question", `expected an object, got ${typeName(question)}`);
  if (question.mode !== "open") fail(UNSUPPORTED, "question.mode", SECRET_REFUSAL);
  const options = question.options;
  if (!Array.isArray(options)) fail(INVALID_FIELD, "question.options", `expected an array, got ${typeName(options)}`);
  options.forEach((o, i) => field.text(o, `question.options[${i}]`, field.OPTION));
  return {
    type: QUESTION_BINDING_TYPE,
    qid: field.text(question.qid, "question.qid", field.IDENTIFIER),
    title: field.text(question.title, "question.title", field.TITLE),
    options: /** @type {string[]} */ (options),
    rule: /** @type {JSONValue} */ (field.object(question.rule, "question.rule", ["kind"], ["min", "max", "threshold_bp", "min_turnout"])),
    eligibility: /** @type {JSONValue} */ (field.object(question.eligibility, "question.eligibility", ["kind"], ["roster", "registrars", "base", "code_salt", "code_hash"])),
    mode: "open",
    election_key: null,
  };
}

/**
 * The question hash a ballot binds: SHA-256 of the binding's canonical bytes, hex.
 * @param {Record<string, unknown>} question
 * @returns {Promise<string>}
 */
export async function questionHash(question) {
  return toHex(await sha256(canonicalize(questionBinding(question), "question")));
}

/**
 * @param {Record<string, unknown> | undefined} question
 * @param {unknown} given a question hash (hex), when no question is given
 * @returns {Promise<string>}
 */
async function boundHash(question, given) {
  if (question !== undefined) {
    const computed = await questionHash(question);
    if (given !== undefined && given !== computed) fail(INVALID_FIELD, "questionHash", `expected the question's hash ${computed}, got ${JSON.stringify(given)}`);
    return computed;
  }
  if (given === undefined) fail(INVALID_FIELD, "question", "expected the question record (or its questionHash): mvote-2 ballots bind it");
  return toHex(fromHex(given, 32, "questionHash"));
}

/**
 * @param {BallotFields} ballot
 * @param {string} sig
 * @param {unknown} credential
 * @param {unknown} code
 * @returns {CastRequest}
 */
function castRequest(ballot, sig, credential, code) {
  if (credential !== null) checkSignedCredential(credential, "credential");
  if (code !== null) field.text(code, "code", field.CODE);
  return {
    ballot,
    sig,
    credential: /** @type {SignedCredential | null} */ (credential),
    code: /** @type {string | null} */ (code),
  };
}

/**
 * Check that `signature` (hex) is the voter's valid signature of the ballot `fields`, as the
 * contract does: the fields' shape (INVALID_FIELD), the voter key (INVALID_KEY), the signature
 * (BAD_SIGNATURE naming `sig`). Resolves to the ballot's tracker.
 *
 * @param {unknown} fields the ballot, as JSON
 * @param {unknown} signature 128 lowercase hex digits
 * @returns {Promise<string>} the tracker
 */
export async function verifyBallotSignature(fields, signature) {
  const ballot = checkBallotFields(fields);
  const voter = checkedPublicKey(ballot.voter, "ballot.voter");
  const bytes = canonicalize(ballot, "ballot");
  await verifySignature(voter, bytes, fromHex(signature, 64, "sig"), "sig");
  return tracker(bytes);
}

/**
 * The ballot's shape, as records.py BALLOT_SHAPE (paths under "ballot"). A secret ballot is
 * refused with UNSUPPORTED.
 * @param {unknown} value
 * @returns {BallotFields}
 */
export function checkBallotFields(value) {
  const path = "ballot";
  if (typeof value === "object" && value !== null && /** @type {Record<string, unknown>} */ (value).type === SECRET_BALLOT_TYPE) {
    fail(UNSUPPORTED, "ballot.type", SECRET_REFUSAL);
  }
  const v1 = typeof value === "object" && value !== null && /** @type {Record<string, unknown>} */ (value).type === BALLOT_V1_TYPE;
  const v = field.object(value, path, v1 ? ["type", "channel", "qid", "choices", "voter"] : ["type", "channel", "qid", "choices", "voter", "question"]);
  if (!v1) {
    field.constant(v.type, "ballot.type", BALLOT_TYPE);
    field.hex(v.question, "ballot.question", 32);
  }
  field.text(v.channel, "ballot.channel", field.CHANNEL);
  field.text(v.qid, "ballot.qid", field.IDENTIFIER);
  checkChoiceList(v.choices, "ballot.choices");
  field.hex(v.voter, "ballot.voter", 32);
  return /** @type {BallotFields} */ (/** @type {unknown} */ (v));
}

/**
 * @param {unknown} choices
 * @param {string} path
 */
function checkChoiceList(choices, path) {
  if (!Array.isArray(choices)) fail(INVALID_FIELD, path, `expected an array, got ${typeName(choices)}`);
  if (choices.length > MAX_OPTIONS) fail(INVALID_FIELD, path, `expected 0..${MAX_OPTIONS} items, got ${choices.length}`);
  choices.forEach((c, i) => field.integer(c, `${path}[${i}]`, 0, MAX_OPTIONS - 1));
  for (let i = 1; i < choices.length; i++) {
    if (!(choices[i - 1] < choices[i])) {
      fail(INVALID_FIELD, `${path}[${i}]`, `expected strictly ascending items, got ${choices[i]} after ${choices[i - 1]}`);
    }
  }
}

/**
 * The choices in ascending order. Each must be an option index, given once.
 * @param {unknown} choices
 * @returns {number[]}
 */
function orderedChoices(choices) {
  if (!Array.isArray(choices)) fail(INVALID_FIELD, "choices", `expected an array, got ${typeName(choices)}`);
  choices.forEach((c, i) => field.integer(c, `choices[${i}]`, 0, MAX_OPTIONS - 1));
  const ordered = [...new Set(/** @type {number[]} */ (choices))].sort((a, b) => a - b);
  if (ordered.length !== choices.length) {
    fail(INVALID_FIELD, "choices", `expected distinct options, got ${JSON.stringify(choices)}`);
  }
  return ordered;
}

/**
 * @param {SigningKey} key
 */
function checkKey(key) {
  const ok = typeof key === "object" && key !== null && key.publicKey instanceof Uint8Array && key.publicKey.length === 32 && typeof key.sign === "function";
  if (!ok) fail(INVALID_FIELD, "key", "expected a signing key from keyFromSeed, got something else");
}

/**
 * The question's id; `qid`, if also given, must be the same.
 * @param {Record<string, unknown>} question
 * @param {unknown} qid
 * @returns {string}
 */
function questionId(question, qid) {
  if (typeof question !== "object" || question === null) fail(INVALID_FIELD, "question", `expected an object, got ${typeName(question)}`);
  if (question.mode === "secret") fail(UNSUPPORTED, "question.mode", SECRET_REFUSAL);
  const id = field.text(question.qid, "question.qid", field.IDENTIFIER);
  if (qid !== undefined && qid !== id) fail(INVALID_FIELD, "qid", `expected the question's id ${JSON.stringify(id)}, got ${JSON.stringify(qid)}`);
  return id;
}

/**
 * rules.check_choices: every choice an option of the question, and as many as its rule allows.
 * Precondition: `choices` ascending and unique.
 * @param {Record<string, unknown>} question
 * @param {number[]} choices
 */
function checkChoices(question, choices) {
  const options = question.options;
  if (!Array.isArray(options)) fail(INVALID_FIELD, "question.options", `expected an array, got ${typeName(options)}`);
  const n = options.length;
  choices.forEach((choice, i) => {
    if (choice >= n) fail(RULE_VIOLATION, `ballot.choices[${i}]`, `expected an option index below ${n}, got ${choice}`);
  });
  const [low, high] = selectionBounds(question.rule);
  if (choices.length < low || choices.length > high) {
    const expected = low === high ? `exactly ${low}` : `${low} to ${high}`;
    fail(RULE_VIOLATION, "ballot.choices", `expected ${expected} selections, got ${choices.length}`);
  }
}

/**
 * rules.selection_bounds: how many options a ballot selects under `rule`.
 * @param {unknown} rule
 * @returns {[number, number]}
 */
function selectionBounds(rule) {
  const r = /** @type {Record<string, unknown>} */ (field.object(rule, "question.rule", ["kind"], ["min", "max", "threshold_bp", "min_turnout"]));
  if (r.kind === "multi") {
    return [field.integer(r.min, "question.rule.min", 0, MAX_OPTIONS), field.integer(r.max, "question.rule.max", 1, MAX_OPTIONS)];
  }
  if (r.kind === "single" || r.kind === "yesno") return [1, 1];
  fail(INVALID_FIELD, "question.rule.kind", `expected one of ["multi","single","yesno"], got ${JSON.stringify(r.kind)}`);
}
