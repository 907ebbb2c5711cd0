// @ts-check
/**
 * Registrar credentials (records.py Credential, eligibility.py check_credential): a registrar's
 * signed statement that a voter key passed its off-chain check, for questions with open
 * eligibility. A kiosk checks one before a voter signs; a registrar's web app issues them.
 */

import { canonicalize } from "./canonical.js";
import { BAD_CREDENTIAL, fail } from "./errors.js";
import * as field from "./fields.js";
import { fromHex, toHex } from "./hex.js";
import { checkedPublicKey, publicKeyHex, verifySignature } from "./keys.js";

export const CREDENTIAL_TYPE = "mvote.credential.v1";
/** records.py TIME: unix seconds up to 2**40. */
const MAX_TIME = 2 ** 40;

/**
 * @typedef {object} CredentialBody
 * @property {"mvote.credential.v1"} type
 * @property {string} channel
 * @property {string} scope a question id, or "*" for every question that trusts the registrar
 * @property {string} voter the voter's public key, hex
 * @property {string} registrar the registrar's public key, hex
 * @property {number} expires_at unix seconds
 *
 * @typedef {object} SignedCredential
 * @property {CredentialBody} body
 * @property {string} sig the registrar's signature of the body's canonical bytes, hex
 *
 * @typedef {object} CredentialContext what check_credential compares (each check only if given)
 * @property {string[]} [registrars] the question's registrars (eligibility.registrars)
 * @property {string} [voter] the ballot's voter key, hex
 * @property {string} [channel]
 * @property {string} [qid]
 * @property {number} [now] the time of the transaction, unix seconds
 */

/**
 * The shape of a signed credential (SIGNED_CREDENTIAL_SHAPE), paths under `path`.
 * @param {unknown} value
 * @param {string} path
 * @returns {SignedCredential}
 */
export function checkSignedCredential(value, path) {
  const v = field.object(value, path, ["body", "sig"]);
  checkBody(v.body, `${path}.body`);
  field.hex(v.sig, `${path}.sig`, 64);
  return /** @type {SignedCredential} */ (/** @type {unknown} */ (v));
}

/**
 * @param {unknown} value
 * @param {string} path
 * @returns {CredentialBody}
 */
function checkBody(value, path) {
  const v = field.object(value, path, ["type", "channel", "scope", "voter", "registrar", "expires_at"]);
  field.constant(v.type, `${path}.type`, CREDENTIAL_TYPE);
  field.text(v.channel, `${path}.channel`, field.CHANNEL);
  field.text(v.scope, `${path}.scope`, field.SCOPE);
  field.hex(v.voter, `${path}.voter`, 32);
  field.hex(v.registrar, `${path}.registrar`, 32);
  field.integer(v.expires_at, `${path}.expires_at`, 0, MAX_TIME);
  return /** @type {CredentialBody} */ (/** @type {unknown} */ (v));
}

/**
 * A registrar's credential for `voter`, signed with the registrar's key.
 * @param {{channel: string, voter: string, expiresAt: number, scope?: string}} input
 * @param {import("./keys.js").SigningKey} registrarKey
 * @returns {Promise<SignedCredential>}
 */
export async function issueCredential({ channel, voter, expiresAt, scope = "*" }, registrarKey) {
  /** @type {CredentialBody} */
  const body = { type: CREDENTIAL_TYPE, channel, scope, voter, registrar: publicKeyHex(registrarKey), expires_at: expiresAt };
  checkBody(body, "credential.body");
  return { body, sig: toHex(await registrarKey.sign(canonicalize(body, "credential.body"))) };
}

/**
 * Check a credential as the contract does (eligibility.py check_credential): its shape
 * (INVALID_FIELD), then against `context` (BAD_CREDENTIAL: registrar, voter, channel, scope,
 * expiry, in that order), then the registrar's key (INVALID_KEY) and signature (BAD_SIGNATURE).
 * @param {unknown} credential
 * @param {CredentialContext} [context]
 * @returns {Promise<void>}
 */
export async function verifyCredential(credential, context = {}) {
  const { body, sig } = checkSignedCredential(credential, "credential");
  const { registrars, voter, channel, qid, now } = context;
  if (registrars !== undefined && !registrars.includes(body.registrar)) {
    fail(BAD_CREDENTIAL, "credential.body.registrar", `expected one of the question's registrars, got ${body.registrar}`);
  }
  if (voter !== undefined && body.voter !== voter) {
    fail(BAD_CREDENTIAL, "credential.body.voter", `expected the ballot's voter ${voter}, got ${body.voter}`);
  }
  if (channel !== undefined && body.channel !== channel) {
    fail(BAD_CREDENTIAL, "credential.body.channel", `expected ${channel}, got ${body.channel}`);
  }
  if (qid !== undefined && body.scope !== "*" && body.scope !== qid) {
    fail(BAD_CREDENTIAL, "credential.body.scope", `expected ${JSON.stringify(qid)} or "*", got ${JSON.stringify(body.scope)}`);
  }
  if (now !== undefined && now >= body.expires_at) {
    fail(BAD_CREDENTIAL, "credential.body.expires_at", `expired at ${body.expires_at}, transaction time ${now}`);
  }
  const registrar = checkedPublicKey(body.registrar, "credential.body.registrar");
  await verifySignature(registrar, canonicalize(body, "credential.body"), fromHex(sig, 64, "credential.sig"), "credential.sig");
}
