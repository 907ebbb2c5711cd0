// Types of @mvote/ballot (the sources carry the same types as JSDoc, checked with // @ts-check).
// README.md describes each function; mvote's Python code is the reference for every byte.

/** A JSON value as mvote admits it (safe integers only; the encoder also takes bigints). */
export type JSONValue = null | boolean | number | string | JSONValue[] | { [key: string]: JSONValue };

/** The stable codes this package throws: a subset of mvote's error table (docs/errors.md). */
export type ErrorCode =
  | "MALFORMED"
  | "NON_CANONICAL"
  | "TOO_LARGE"
  | "INVALID_FIELD"
  | "INVALID_KEY"
  | "BAD_SIGNATURE"
  | "BAD_CREDENTIAL"
  | "RULE_VIOLATION"
  | "UNSUPPORTED";

export const ERROR_CODES: readonly ErrorCode[];

/** Every refusal: a stable code, the field it names, and "field: expected X, got Y". */
export class MvoteError extends Error {
  constructor(code: string, message: string, field: string | null);
  readonly name: "MvoteError";
  code: ErrorCode;
  field: string | null;
  /** "CODE: message", as the contract writes it in a Fabric response. */
  toString(): string;
}

// --- canonical encoding ---

export const MAX_SAFE_INTEGER: number;
export const MAX_DEPTH: number;
/** RFC 8785 bytes of `value` with mvote's restrictions; NON_CANONICAL naming the path if refused. */
export function canonicalize(value: unknown, root?: string): Uint8Array;
/** The value of canonical bytes; TOO_LARGE, MALFORMED or NON_CANONICAL for anything else. */
export function decodeCanonical(bytes: Uint8Array, options: { maxSize: number; what?: string }): JSONValue;

// --- keys ---

export interface SigningKey {
  /** The 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** A 64-byte RFC 8032 signature of `message`. */
  sign(message: Uint8Array): Promise<Uint8Array>;
}
/** An Ed25519 key from its 32-byte seed (as pynacl's SigningKey(seed)). */
export function keyFromSeed(seed: Uint8Array): Promise<SigningKey>;
/** The public key as 64 lowercase hex digits (a ballot's `voter`). */
export function publicKeyHex(key: SigningKey | Uint8Array): string;
/** The key's bytes if it is a valid mvote public key; INVALID_FIELD or INVALID_KEY naming `field`. */
export function checkedPublicKey(hex: unknown, field: string): Uint8Array;

// --- hashes ---

export const MAX_SHARDS: number;
/** SHA-256 of a ballot's canonical bytes, hex. */
export function tracker(canonicalBytes: Uint8Array): Promise<string>;
/** SHA-256("mvote/voter-hash/v1" 0x00 || public key), hex: the voter's roster entry. */
export function voterHash(publicKey: Uint8Array | string): Promise<string>;
/** First 8 bytes of the voter hash, big-endian, modulo `shards` (1..1024). */
export function shardOf(voterHash: Uint8Array | string, shards: number): number;
/** SHA-256("mvote/onsite-code/v1" 0x00 || salt || qid || 0x00 || code), hex. */
export function onsiteCodeHash(salt: Uint8Array | string, qid: string, code: string): Promise<string>;

// --- ballots ---

/** The open ballot of contract mvote-2 (binds the question record's hash). */
export const BALLOT_TYPE: "mvote.ballot.v2";
/** The open ballot of contract mvote-1: verified, never prepared. */
export const BALLOT_V1_TYPE: "mvote.ballot.v1";
export const QUESTION_BINDING_TYPE: "mvote.question-binding.v1";
export const SECRET_BALLOT_TYPE: "mvote.secret-ballot.v1";
export const MAX_OPTIONS: number;
export const MAX_CAST_BYTES: number;

/** What the voter signs. */
export interface BallotFields {
  type: "mvote.ballot.v2" | "mvote.ballot.v1";
  channel: string;
  qid: string;
  /** Ascending option indexes. */
  choices: number[];
  /** The voter's public key, hex. */
  voter: string;
  /** The hash of the question record the ballot binds (mvote.ballot.v2), hex. */
  question?: string;
}

/** The one argument of the contract's Cast, as JSON. */
export interface CastRequest {
  ballot: BallotFields;
  /** The voter's signature of the ballot's canonical bytes, hex. */
  sig: string;
  credential: SignedCredential | null;
  code: string | null;
}

export interface BallotInput {
  /** The channel the ballot is cast on (signed: it binds the ballot to the channel). */
  channel: string;
  /** The question id (optional when `question` is given). */
  qid?: string;
  /** The question record or spec as GetQuestion returns it: the ballot binds its hash, and
   * the choices are checked against it. */
  question?: Record<string, unknown>;
  /** Instead of `question`: the question hash to bind (hex). */
  questionHash?: string;
  /** Option indexes, in any order, each once. */
  choices: number[];
  /** A registrar credential (questions with open eligibility). */
  credential?: SignedCredential | null;
  /** The code shown on site (on-site questions). */
  code?: string | null;
  /** "secret" is refused with UNSUPPORTED. */
  mode?: "open" | "secret";
}

export interface PreparedBallot {
  fields: BallotFields;
  /** The ballot's canonical bytes: what the voter signed. */
  canonicalBytes: Uint8Array;
  /** SHA-256 of canonicalBytes, hex. */
  tracker: string;
  /** The voter's signature, hex. */
  signature: string;
  request: CastRequest;
  /** Canonical bytes of `request`: the one argument an integrator submits to Cast. */
  requestBytes: Uint8Array;
  cast: { function: "Cast"; args: [Uint8Array] };
}

export function prepareBallot(input: BallotInput, key: SigningKey): Promise<PreparedBallot>;
/** What a ballot binds of its question: type, qid, title, options, rule, eligibility, mode, election_key (null). */
export function questionBinding(question: Record<string, unknown>): Record<string, JSONValue>;
/** SHA-256 of the canonical bytes of questionBinding(question), hex. */
export function questionHash(question: Record<string, unknown>): Promise<string>;
/** Resolves to the tracker if `signature` is the voter's valid signature of `fields`. */
export function verifyBallotSignature(fields: unknown, signature: unknown): Promise<string>;
/** The fields, if they have an open ballot's shape (INVALID_FIELD naming the field otherwise). */
export function checkBallotFields(value: unknown): BallotFields;

// --- registrar credentials ---

export const CREDENTIAL_TYPE: "mvote.credential.v1";

export interface CredentialBody {
  type: "mvote.credential.v1";
  channel: string;
  /** A question id, or "*" for every question that trusts the registrar. */
  scope: string;
  voter: string;
  registrar: string;
  expires_at: number;
}

export interface SignedCredential {
  body: CredentialBody;
  sig: string;
}

/** What verifyCredential compares, each only if given (the contract compares all of them). */
export interface CredentialContext {
  registrars?: string[];
  voter?: string;
  channel?: string;
  qid?: string;
  now?: number;
}

export function issueCredential(
  input: { channel: string; voter: string; expiresAt: number; scope?: string },
  registrarKey: SigningKey,
): Promise<SignedCredential>;
export function verifyCredential(credential: unknown, context?: CredentialContext): Promise<void>;

// --- hex ---

export function toHex(bytes: Uint8Array): string;
/** Bytes of lowercase hex of exactly `size` bytes (any even length if null). */
export function fromHex(text: unknown, size: number | null, field: string): Uint8Array;
