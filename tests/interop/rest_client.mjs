#!/usr/bin/env node
// A JavaScript integrator casting through mvote's REST API (tests/interop/test_js_rest.py): Node.js
// 20's built-in fetch and @mvote/ballot (js/ballot) for the ballot, nothing from npm.
//
// Reads {"url", "qid", "seed_hex", "credential"} as JSON on stdin; reads the question from the
// service, prepares and signs the ballot on "the device", POSTs its canonical bytes to
// /v1/ballots?receipt=true and writes {"status", "tracker", "answer"} as JSON on stdout (the answer
// is the service's JSON: the committed ballot and its receipt, or a problem with its code).
import { readFileSync } from "node:fs";

import { keyFromSeed, prepareBallot } from "../../js/ballot/src/index.js";

const { url, qid, seed_hex, credential } = JSON.parse(readFileSync(0, "utf8"));

const got = await fetch(`${url}/v1/questions/${encodeURIComponent(qid)}`);
if (!got.ok) throw new Error(`GET question: ${got.status} ${await got.text()}`);
const question = await got.json();

const key = await keyFromSeed(Uint8Array.from(Buffer.from(seed_hex, "hex")));
const ballot = await prepareBallot(
  { channel: "mvote", question, choices: [question.options.length - 1], credential },
  key,
);

const cast = await fetch(`${url}/v1/ballots?receipt=true`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: ballot.requestBytes,
});
const answer = await cast.json();
process.stdout.write(
  JSON.stringify({
    status: cast.status,
    contentType: cast.headers.get("content-type"),
    tracker: ballot.tracker,
    answer,
  }),
);
