// A Node.js integrator of the mvote.v1 voting service: @grpc/grpc-js and @grpc/proto-loader
// from npm (pinned in tests/interop/package-lock.json), the ballot prepared with js/ballot.
// Driven by tests/interop/test_js_service.py:
//
//   node service_client.mjs <config.json>
//
// config.json: {modules, proto, protoRoot, address, ca, cert, key, channel, qid, seedHex,
//               choice, credential}
// It reads the question through the service, prepares and signs the ballot with js/ballot,
// casts it (with its receipt), casts a second ballot of the same voter (refused), and relays
// three more voters' ballots on one CastStream. It prints one JSON object; the Python test
// asserts every result (the receipt verifies, the refusal's code, the stream's answers).

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { keyFromSeed, fromHex, prepareBallot } from '../../js/ballot/src/index.js';

const config = JSON.parse(await readFile(process.argv[2], 'utf8'));
const require = createRequire(join(config.modules, 'package.json'));
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const definition = protoLoader.loadSync(config.proto, {
    includeDirs: [config.protoRoot],
    keepCase: true,
    longs: Number,
    defaults: true,
    oneofs: true,
});
const { Voting } = grpc.loadPackageDefinition(definition).mvote.v1;
// The service's certificate names localhost and 127.0.0.1; connect by name (RFC 6066).
const address = config.address.replace(/^127\.0\.0\.1:/, 'localhost:');
const credentials = grpc.credentials.createSsl(
    Buffer.from(config.ca),
    Buffer.from(config.key),
    Buffer.from(config.cert),
);
const client = new Voting(address, credentials);

const call = (method, request) =>
    new Promise((resolve, reject) => {
        client[method](request, { deadline: Date.now() + 60_000 }, (err, response) =>
            err ? reject(err) : resolve(response),
        );
    });

async function ballot(seedHex, choice) {
    const question = JSON.parse(Buffer.from((await call('GetQuestion', { qid: config.qid })).record));
    const key = await keyFromSeed(fromHex(seedHex, 32, "seed"));
    const credential = config.credentials[seedHex] ?? null;
    return prepareBallot({ channel: config.channel, question, choices: [choice], credential }, key);
}

const out = {};
const first = await ballot(config.seedHex, config.choice);
out.jsTracker = first.tracker;
const cast = await call('Cast', { request: Buffer.from(first.requestBytes), with_receipt: true });
out.cast = {
    qid: cast.qid,
    tracker: cast.tracker,
    tx_id: cast.tx_id,
    block_number: cast.block_number,
    receipt: Buffer.from(cast.receipt).toString('base64'),
};

const again = await ballot(config.seedHex, (config.choice + 1) % 2);
try {
    await call('Cast', { request: Buffer.from(again.requestBytes) });
    out.second = { refused: false };
} catch (err) {
    const info = err.metadata.get('mvote-error-info-bin')[0];
    out.second = { refused: true, grpcCode: err.code, details: err.details, errorInfo: info ? Buffer.from(info).toString('base64') : null };
}

const stream = client.CastStream();
const answers = [];
const finished = new Promise((resolve, reject) => {
    stream.on('data', (answer) => answers.push(answer));
    stream.on('end', resolve);
    stream.on('error', reject);
});
for (const [index, seedHex] of config.streamSeeds.entries()) {
    const prepared = await ballot(seedHex, index % 2);
    stream.write({ ref: `js-${index}`, request: Buffer.from(prepared.requestBytes) });
}
stream.end();
await finished;
out.stream = answers.map((a) => ({ ref: a.ref, outcome: a.outcome, tracker: a[a.outcome]?.tracker ?? null, code: a.refused?.code ?? null }));
client.close();
console.log(JSON.stringify(out));
