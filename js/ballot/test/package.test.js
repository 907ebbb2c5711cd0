// The package's shape: zero dependencies, the types declare exactly what index.js exports, and
// only src/crypto-*.js touch the platform's crypto.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { test } from "node:test";

import * as api from "../src/index.js";

const read = (path) => readFileSync(new URL(`../${path}`, import.meta.url), "utf8");

test("package.json: private, zero dependencies, ES module, #crypto mapped for node and browsers", () => {
  const pkg = JSON.parse(read("package.json"));
  assert.equal(pkg.name, "@mvote/ballot");
  assert.equal(pkg.private, true);
  assert.equal(pkg.type, "module");
  assert.equal(pkg.dependencies, undefined);
  assert.equal(pkg.devDependencies, undefined);
  assert.deepEqual(pkg.imports["#crypto"], { browser: "./src/crypto-web.js", default: "./src/crypto-node.js" });
});

test("src/index.d.ts declares exactly the names src/index.js exports", () => {
  const declared = [...read("src/index.d.ts").matchAll(/^export (?:function|const|class) (\w+)/gm)].map((m) => m[1]);
  assert.deepEqual([...new Set(declared)].sort(), Object.keys(api).sort());
});

test("only the two crypto modules import a platform module", () => {
  for (const name of readdirSync(new URL("../src/", import.meta.url))) {
    if (!name.endsWith(".js")) continue;
    const imports = [...read(`src/${name}`).matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
    for (const spec of imports) {
      if (name.startsWith("crypto-")) continue;
      assert.ok(spec.startsWith("./") || spec === "#crypto", `${name} imports ${spec}`);
    }
    if (name.startsWith("crypto-")) assert.ok(imports.every((s) => s === "node:crypto"), `${name}: ${imports}`);
  }
});
