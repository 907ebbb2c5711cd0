// @ts-check
/**
 * @mvote/ballot: ballot preparation for kiosks and web apps. README.md describes the API; the
 * reference implementation is mvote's Python code, and tests/vectors/ holds the bytes both agree on.
 */

export { MAX_DEPTH, MAX_SAFE_INTEGER, canonicalize, decodeCanonical } from "./canonical.js";
export {
  BALLOT_TYPE,
  BALLOT_V1_TYPE,
  MAX_CAST_BYTES,
  MAX_OPTIONS,
  QUESTION_BINDING_TYPE,
  SECRET_BALLOT_TYPE,
  checkBallotFields,
  prepareBallot,
  questionBinding,
  questionHash,
  verifyBallotSignature,
} from "./ballot.js";
export { CREDENTIAL_TYPE, issueCredential, verifyCredential } from "./credential.js";
export { ERROR_CODES, MvoteError } from "./errors.js";
export { MAX_SHARDS, onsiteCodeHash, shardOf, tracker, voterHash } from "./hashes.js";
export { fromHex, toHex } from "./hex.js";
export { checkedPublicKey, keyFromSeed, publicKeyHex } from "./keys.js";
