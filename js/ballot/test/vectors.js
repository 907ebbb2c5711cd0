// Loads tests/vectors/*.json of the repository (the reference bytes the Python code writes).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const VECTORS = fileURLToPath(new URL("../../../tests/vectors/", import.meta.url));

/** @param {string} name */
export function vectors(name) {
  const file = JSON.parse(readFileSync(VECTORS + name, "utf8"));
  if (!Array.isArray(file.vectors) || file.vectors.length === 0) throw new Error(`${name}: no vectors`);
  return file.vectors;
}

/** @param {string} hex */
export function bytes(hex) {
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

/** @param {Uint8Array} data */
export function hex(data) {
  return Buffer.from(data).toString("hex");
}
