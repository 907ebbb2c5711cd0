// Fabric's official Node.js Gateway client (@hyperledger/fabric-gateway, unchanged) against the
// embedded mvote node. Driven by tests/interop/test_fabric_gateway_node.py:
//
//   node gateway_client.mjs <config.json>
//
// config.json: {modules, address, hostAlias, tlsCaPath, channel, chaincode, checkpointPath,
//               admin: {mspId, certPath, keyPath}, client: {mspId, certPath, keyPath},
//               batch: {qid, spec, ballots}}
// `modules` is the folder holding node_modules (installed by the Python test from
// tests/interop/package-lock.json). The script prints one JSON object on stdout; every check is
// asserted by the Python test, so the script only fails outright when a step throws unexpectedly.

import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const config = JSON.parse(await readFile(process.argv[2], 'utf8'));
const require = createRequire(join(config.modules, 'package.json'));
const grpc = require('@grpc/grpc-js');
const {
    connect,
    checkpointers,
    hash,
    signers,
    EndorseError,
    GatewayError,
    StatusCode,
} = require('@hyperledger/fabric-gateway');
const { common } = require('@hyperledger/fabric-protos');

const utf8 = new TextDecoder();
const encoder = new TextEncoder();
const toHex = (bytes) => Buffer.from(bytes).toString('hex');
const results = {
    versions: {
        node: process.version,
        fabricGateway: require('@hyperledger/fabric-gateway/package.json').version,
        grpcJs: require('@grpc/grpc-js/package.json').version,
    },
};

// RFC 8785 canonical JSON for flat objects of strings (the only shape sent here): keys sorted,
// no spaces. JSON.stringify already escapes strings as RFC 8785 requires.
function canonical(object) {
    const keys = Object.keys(object).sort();
    return '{' + keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(object[k])}`).join(',') + '}';
}

async function identityOf(who) {
    return { mspId: who.mspId, credentials: await readFile(who.certPath) };
}

async function signerOf(who) {
    return signers.newPrivateKeySigner(createPrivateKey(await readFile(who.keyPath)));
}

function describeError(err) {
    const out = {
        class: err?.constructor?.name,
        isGatewayError: err instanceof GatewayError,
        isEndorseError: err instanceof EndorseError,
        code: err?.code,
        message: err?.message,
        details: (err?.details ?? []).map((d) => ({ address: d.address, mspId: d.mspId, message: d.message })),
    };
    if (err?.transactionId !== undefined) out.transactionId = err.transactionId;
    if (!out.isGatewayError) out.stack = String(err?.stack ?? err);
    return out;
}

async function expectFailure(step, fn) {
    try {
        const value = await fn();
        return { step, thrown: false, value: value instanceof Uint8Array ? utf8.decode(value) : value };
    } catch (err) {
        return { step, thrown: true, ...describeError(err) };
    }
}

// The transaction ids of an unfiltered block's envelopes (common.Block protobuf from Deliver).
function blockTxIds(block) {
    return block
        .getData()
        .getDataList_asU8()
        .map((raw) => {
            const payload = common.Payload.deserializeBinary(common.Envelope.deserializeBinary(raw).getPayload_asU8());
            return common.ChannelHeader.deserializeBinary(payload.getHeader().getChannelHeader_asU8()).getTxId();
        });
}

// Read from an events iterator until `accept` returns true, or fail after `ms` milliseconds.
async function firstMatching(iterable, accept, ms = 15000) {
    const timer = setTimeout(() => iterable.close(), ms);
    try {
        for await (const item of iterable) {
            if (accept(item)) return item;
        }
        throw new Error(`event stream ended without a matching item within ${ms} ms`);
    } finally {
        clearTimeout(timer);
        iterable.close();
    }
}

const tlsRoot = await readFile(config.tlsCaPath);
const grpcClient = new grpc.Client(config.address, grpc.credentials.createSsl(tlsRoot), {
    // The peer's TLS certificate names its host (peer0.<domain>), not the loopback address.
    'grpc.ssl_target_name_override': config.hostAlias,
});
const deadline = (seconds) => () => ({ deadline: Date.now() + seconds * 1000 });
const callOptions = {
    evaluateOptions: deadline(10),
    endorseOptions: deadline(15),
    submitOptions: deadline(10),
    commitStatusOptions: deadline(20),
};

const admin = connect({
    client: grpcClient,
    identity: await identityOf(config.admin),
    signer: await signerOf(config.admin),
    hash: hash.sha256,
    ...callOptions,
});
const user = connect({
    client: grpcClient,
    identity: await identityOf(config.client),
    signer: await signerOf(config.client),
    hash: hash.sha256,
    ...callOptions,
});

try {
    const network = admin.getNetwork(config.channel);
    const contract = network.getContract(config.chaincode);
    const userContract = user.getNetwork(config.channel).getContract(config.chaincode);
    results.network = network.getName();

    // -- evaluateTransaction ------------------------------------------------------------------
    results.listQuestionsBefore = utf8.decode(await userContract.evaluateTransaction('ListQuestions'));

    // -- submitTransaction: CreateRoster with canonical JSON -----------------------------------
    const roster1 = canonical({ title: 'Interop roster one', rid: 'interop-r1' });
    results.roster1Spec = roster1;
    results.submitResult = utf8.decode(await contract.submitTransaction('CreateRoster', roster1));
    results.getRosterByClient = utf8.decode(await userContract.evaluateTransaction('GetRoster', 'interop-r1'));

    // -- submitAsync + getStatus ---------------------------------------------------------------
    const roster2 = canonical({ rid: 'interop-r2', title: 'Interop roster two' });
    const submitted = await contract.submitAsync('CreateRoster', { arguments: [roster2] });
    const asyncResult = utf8.decode(submitted.getResult());
    const status = await submitted.getStatus();
    results.submitAsync = {
        transactionId: submitted.getTransactionId(),
        result: asyncResult,
        status: {
            transactionId: status.transactionId,
            blockNumber: status.blockNumber.toString(),
            code: status.code,
            validCode: StatusCode.VALID,
            successful: status.successful,
        },
    };

    // -- newProposal / endorse / submit, stage by stage ---------------------------------------
    const roster3 = canonical({ rid: 'interop-r3', title: 'Interop roster three' });
    const proposal = contract.newProposal('CreateRoster', { arguments: [encoder.encode(roster3)] });
    const stages = {
        proposal: {
            transactionId: proposal.getTransactionId(),
            bytesLength: proposal.getBytes().length,
            digestHex: toHex(proposal.getDigest()),
        },
    };
    const transaction = await proposal.endorse();
    stages.transaction = {
        transactionId: transaction.getTransactionId(),
        bytesLength: transaction.getBytes().length,
        digestHex: toHex(transaction.getDigest()),
        result: utf8.decode(transaction.getResult()),
    };
    const commit = await transaction.submit();
    stages.commit = {
        transactionId: commit.getTransactionId(),
        bytesLength: commit.getBytes().length,
        digestHex: toHex(commit.getDigest()),
        result: utf8.decode(commit.getResult()),
    };
    const stagedStatus = await commit.getStatus();
    stages.status = {
        transactionId: stagedStatus.transactionId,
        blockNumber: stagedStatus.blockNumber.toString(),
        code: stagedStatus.code,
        successful: stagedStatus.successful,
    };
    results.stages = stages;
    // The same signed transaction again: Fabric's orderer would order it and the peer would mark
    // it DUPLICATE_TXID; the embedded orderer refuses it up front (see docs/interop.md).
    results.resubmit = await expectFailure('resubmit-committed-transaction', async () => {
        const again = await transaction.submit();
        const againStatus = await again.getStatus();
        return { blockNumber: againStatus.blockNumber.toString(), code: againStatus.code };
    });

    // -- off-line signing: every stage signed outside the SDK, by the digest it exposes -------
    const offlineGateway = connect({
        client: grpcClient,
        identity: await identityOf(config.admin),
        hash: hash.sha256,
        ...callOptions,
    });
    try {
        const sign = await signerOf(config.admin);
        const offlineContract = offlineGateway.getNetwork(config.channel).getContract(config.chaincode);
        const roster4 = canonical({ rid: 'interop-r4', title: 'Interop roster four (offline signed)' });
        const unsigned = offlineContract.newProposal('CreateRoster', { arguments: [roster4] });
        const signedProposal = offlineGateway.newSignedProposal(unsigned.getBytes(), await sign(unsigned.getDigest()));
        const unsignedTx = await signedProposal.endorse();
        const signedTx = offlineGateway.newSignedTransaction(unsignedTx.getBytes(), await sign(unsignedTx.getDigest()));
        const unsignedCommit = await signedTx.submit();
        const signedCommit = offlineGateway.newSignedCommit(
            unsignedCommit.getBytes(),
            await sign(unsignedCommit.getDigest()),
        );
        const offlineStatus = await signedCommit.getStatus();
        results.offline = {
            transactionId: unsigned.getTransactionId(),
            committedId: offlineStatus.transactionId,
            blockNumber: offlineStatus.blockNumber.toString(),
            code: offlineStatus.code,
            successful: offlineStatus.successful,
            result: utf8.decode(unsignedTx.getResult()),
        };
    } finally {
        offlineGateway.close();
    }

    // -- chaincode refusals -------------------------------------------------------------------
    results.refusals = [
        await expectFailure('submit-duplicate-roster', () => contract.submitTransaction('CreateRoster', roster1)),
        await expectFailure('submit-get-missing-roster', () => contract.submitTransaction('GetRoster', 'interop-none')),
        await expectFailure('client-create-roster', () =>
            userContract.submitTransaction('CreateRoster', canonical({ rid: 'interop-u', title: 'by a client' })),
        ),
        await expectFailure('evaluate-missing-roster', () => contract.evaluateTransaction('GetRoster', 'interop-none')),
    ];

    // -- chaincode events with a file checkpointer --------------------------------------------
    const startBlock = BigInt(results.submitAsync.status.blockNumber);
    const checkpointer = await checkpointers.file(config.checkpointPath);
    const eventsFrom = async (after) => {
        const stream = await user.getNetwork(config.channel).getChaincodeEvents(config.chaincode, {
            startBlock,
            checkpoint: checkpointer,
        });
        return firstMatching(stream, () => true).then((event) => ({ event, after }));
    };
    const first = (await eventsFrom('start')).event;
    await checkpointer.checkpointChaincodeEvent(first);
    // A second stream with the same checkpointer resumes after the checkpointed event.
    const second = (await eventsFrom('checkpoint')).event;
    const describeEvent = (event) => ({
        blockNumber: event.blockNumber.toString(),
        transactionId: event.transactionId,
        chaincodeName: event.chaincodeName,
        eventName: event.eventName,
        payload: utf8.decode(event.payload),
    });
    results.chaincodeEvents = {
        startBlock: startBlock.toString(),
        first: describeEvent(first),
        afterCheckpoint: describeEvent(second),
        checkpoint: {
            blockNumber: checkpointer.getBlockNumber()?.toString(),
            transactionId: checkpointer.getTransactionId(),
        },
    };

    // -- block events and filtered block events of committed blocks ---------------------------
    const txBlock = BigInt(results.stages.status.blockNumber);
    const block = await firstMatching(await network.getBlockEvents({ startBlock: txBlock }), () => true);
    results.blockEvents = {
        number: block.getHeader().getNumber().toString(),
        txIds: blockTxIds(block),
        metadataSlots: block.getMetadata().getMetadataList().length,
    };
    const filtered = await firstMatching(await network.getFilteredBlockEvents({ startBlock: txBlock }), () => true);
    results.filteredBlockEvents = {
        number: filtered.getNumber().toString(),
        channelId: filtered.getChannelId(),
        transactions: filtered.getFilteredTransactionsList().map((tx) => ({
            txId: tx.getTxid(),
            type: tx.getType(),
            validationCode: tx.getTxValidationCode(),
            events: (tx.getTransactionActions()?.getChaincodeActionsList() ?? []).map((a) => ({
                chaincodeId: a.getChaincodeEvent().getChaincodeId(),
                eventName: a.getChaincodeEvent().getEventName(),
                payloadLength: a.getChaincodeEvent().getPayload_asU8().length,
            })),
        })),
    };

    const withPrivate = await firstMatching(
        await network.getBlockAndPrivateDataEvents({ startBlock: txBlock }),
        () => true,
    );
    results.blockAndPrivateDataEvents = {
        number: withPrivate.getBlock().getHeader().getNumber().toString(),
        txIds: blockTxIds(withPrivate.getBlock()),
        privateDataEntries: withPrivate.getPrivateDataMapMap().getLength(),
    };

    // -- live delivery: streams opened on a block not committed yet, then a submit ------------
    const nextBlock = BigInt(results.offline.blockNumber) + 1n;
    const liveBlocks = await network.getBlockEvents({ startBlock: nextBlock });
    const liveFiltered = await user.getNetwork(config.channel).getFilteredBlockEvents({ startBlock: nextBlock });
    const liveEvents = await user.getNetwork(config.channel).getChaincodeEvents(config.chaincode, {
        startBlock: nextBlock,
    });
    const roster5 = canonical({ rid: 'interop-r5', title: 'Interop roster five (live)' });
    const live = await contract.submitAsync('CreateRoster', { arguments: [roster5] });
    const liveId = live.getTransactionId();
    const [liveBlock, liveFilteredBlock, liveEvent, liveStatus] = await Promise.all([
        firstMatching(liveBlocks, (b) => blockTxIds(b).includes(liveId)),
        firstMatching(liveFiltered, (b) => b.getFilteredTransactionsList().some((tx) => tx.getTxid() === liveId)),
        firstMatching(liveEvents, (e) => e.transactionId === liveId),
        live.getStatus(),
    ]);
    results.live = {
        transactionId: liveId,
        requestedStart: nextBlock.toString(),
        blockNumber: liveBlock.getHeader().getNumber().toString(),
        filteredNumber: liveFilteredBlock.getNumber().toString(),
        filteredCode: liveFilteredBlock
            .getFilteredTransactionsList()
            .find((tx) => tx.getTxid() === liveId)
            .getTxValidationCode(),
        event: describeEvent(liveEvent),
        status: { blockNumber: liveStatus.blockNumber.toString(), code: liveStatus.code },
    };

    // -- a batch of voter-signed ballots (CastBatch): an ordinary endorser transaction ---------
    // The question (canonical JSON) and the ballots (each exactly Cast's argument) come from
    // the Python test; an integrator's client identity submits the batch.
    await contract.submitTransaction('CreateQuestion', config.batch.spec);
    await contract.submitTransaction('OpenQuestion', config.batch.qid);
    const batch = await userContract.submitAsync('CastBatch', { arguments: config.batch.ballots });
    const batchStatus = await batch.getStatus();
    results.batch = {
        transactionId: batch.getTransactionId(),
        result: utf8.decode(batch.getResult()),
        status: {
            blockNumber: batchStatus.blockNumber.toString(),
            code: batchStatus.code,
            successful: batchStatus.successful,
        },
    };
    results.ok = true;
} catch (err) {
    results.ok = false;
    results.error = describeError(err);
} finally {
    admin.close();
    user.close();
    grpcClient.close();
}

process.stdout.write(JSON.stringify(results) + '\n');
process.exitCode = results.ok ? 0 : 1;
