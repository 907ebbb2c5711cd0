// @ts-check
/**
 * Which 32-byte strings mvote admits as Ed25519 public keys, and which signature encodings:
 * libsodium's rules (mvote/chaincode/_ed25519.py relies on them), written out so that every
 * platform (OpenSSL under Node.js, any WebCrypto) refuses exactly what the contract refuses.
 *
 * A public key must be a canonical encoding (y < p) of a point on edwards25519, in the
 * prime-order subgroup and not of small order (crypto_core_ed25519_is_valid_point). A signature's
 * S must be below the group order L, and its R must not encode a small-order point
 * (crypto_sign_verify_detached). Arithmetic with BigInt: slow next to native code, but run once
 * per key.
 */

const P = 2n ** 255n - 19n;
/** The order of the prime-order subgroup. */
export const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const D = mod(-121665n * inverse(121666n));
const D2 = mod(2n * D);
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

/**
 * The y coordinates of the small-order points, and (non-canonical) p and p + 1: libsodium's
 * blocklist, compared without the sign bit.
 */
const SMALL_ORDER_Y = new Set([
  0n,
  1n,
  P - 1n,
  P,
  P + 1n,
  littleEndian("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
  littleEndian("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
]);

/**
 * @param {bigint} a
 * @returns {bigint}
 */
function mod(a) {
  const r = a % P;
  return r >= 0n ? r : r + P;
}

/**
 * @param {bigint} base
 * @param {bigint} exponent
 * @returns {bigint}
 */
function pow(base, exponent) {
  let result = 1n;
  let b = mod(base);
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
  }
  return result;
}

/**
 * @param {bigint} a
 * @returns {bigint}
 */
function inverse(a) {
  return pow(a, P - 2n);
}

/**
 * @param {string | Uint8Array} bytes hex or bytes, little-endian
 * @returns {bigint}
 */
function littleEndian(bytes) {
  const data = typeof bytes === "string" ? Uint8Array.from(bytes.match(/../g) ?? [], (h) => parseInt(h, 16)) : bytes;
  let n = 0n;
  for (let i = data.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(data[i]);
  return n;
}

/**
 * @param {Uint8Array} encoding 32 bytes
 * @returns {boolean} whether it is libsodium-blocklisted as small order (sign bit ignored)
 */
function hasSmallOrder(encoding) {
  return SMALL_ORDER_Y.has(littleEndian(encoding) & ((1n << 255n) - 1n));
}

/**
 * Whether `key` is a valid Ed25519 public key for mvote (libsodium's is_valid_point).
 * @param {Uint8Array} key
 * @returns {boolean}
 */
export function isValidPoint(key) {
  if (key.length !== 32 || hasSmallOrder(key)) return false;
  const y = littleEndian(key) & ((1n << 255n) - 1n);
  if (y >= P) return false;
  const x = recoverX(y, key[31] >> 7);
  if (x === null) return false;
  /** @type {Point} */
  const point = [x, y, 1n, mod(x * y)];
  return isIdentity(multiply(point, L));
}

/**
 * Whether a 64-byte signature has a canonical S (< L) and an R that is not blocklisted.
 * @param {Uint8Array} signature
 * @returns {boolean}
 */
export function isAdmissibleSignature(signature) {
  return signature.length === 64 && littleEndian(signature.subarray(32)) < L && !hasSmallOrder(signature.subarray(0, 32));
}

/**
 * @param {bigint} y
 * @param {number} sign
 * @returns {bigint | null} x with the given sign, or null if y is not on the curve
 */
function recoverX(y, sign) {
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  const v3 = mod(v * v * v);
  let x = mod(u * v3 * pow(u * v3 * v3 * v, (P - 5n) / 8n));
  const check = mod(v * x * x);
  if (check === mod(-u)) x = mod(x * SQRT_M1);
  else if (check !== u) return null;
  if (x === 0n && sign === 1) return null;
  return Number(x & 1n) === sign ? x : mod(-x);
}

/** @typedef {[bigint, bigint, bigint, bigint]} Point extended coordinates X, Y, Z, T */

/**
 * @param {Point} a
 * @param {Point} b
 * @returns {Point} a + b (unified addition, a = -1 twisted Edwards)
 */
function add([x1, y1, z1, t1], [x2, y2, z2, t2]) {
  const a = mod((y1 - x1) * (y2 - x2));
  const b = mod((y1 + x1) * (y2 + x2));
  const c = mod(t1 * D2 * t2);
  const d = mod(2n * z1 * z2);
  const e = b - a;
  const f = d - c;
  const g = d + c;
  const h = b + a;
  return [mod(e * f), mod(g * h), mod(f * g), mod(e * h)];
}

/**
 * @param {Point} point
 * @param {bigint} scalar
 * @returns {Point}
 */
function multiply(point, scalar) {
  /** @type {Point} */
  let result = [0n, 1n, 1n, 0n];
  let addend = point;
  for (let k = scalar; k > 0n; k >>= 1n) {
    if (k & 1n) result = add(result, addend);
    addend = add(addend, addend);
  }
  return result;
}

/**
 * @param {Point} point
 * @returns {boolean}
 */
function isIdentity([x, y, z]) {
  return x === 0n && y === z;
}
