/**
 * The node as the JSON-RPC server sees it (rpc/query.ts NodeQuery): chain reads from the executor,
 * its block store and the state tree, admission to the mempool, and what consensus and the
 * network are doing through the callbacks the node passes in. Tests compose it from a real
 * executor and mempool without consensus (test/fixtures/rpc-node.ts).
 */
import type { Address } from '../chain/address.ts';
import { toHex } from '../chain/bytes.ts';
import type { DuplicateVoteEvidence } from '../chain/evidence.ts';
import type { SignedTransaction } from '../chain/tx.ts';
import type { ConsensusDriver } from '../consensus/driver.ts';
import type { SynchronyBounds } from '../consensus/timeliness.ts';
import type { ValidatorSet } from '../consensus/validators.ts';
import type { Executor } from '../execution/executor.ts';
import type { Mempool } from '../mempool/mempool.ts';
import type { PeerInfo } from '../p2p/network.ts';
import type { ConsensusSnapshot, NodeQuery } from '../rpc/query.ts';
import { RpcError } from '../rpc/errors.ts';
import { StateOverlay } from '../state/overlay.ts';
import type { StateTree } from '../state/tree.ts';
import type { TxWaiters } from '../rpc/tx-waiters.ts';

export interface QueryParts {
  chainId: string;
  nodeId: string;
  validatorAddress: Address | null;
  executor: Executor;
  tree: StateTree;
  mempool: Mempool;
  validators: ValidatorSet;
  /** Display names from genesis, by validator address hex. */
  validatorNames: ReadonlyMap<string, string>;
  synchrony: SynchronyBounds;
  waiters: TxWaiters;
  /** Told of each transaction admitted through the RPC (the node gossips it). */
  admitted(stx: SignedTransaction): void;
  /** Evidence seen and not yet in a block. */
  pendingEvidence(): DuplicateVoteEvidence[];
  consensusState(): ConsensusSnapshot;
  catchingUp(): boolean;
  latestSnapshot(): number | null;
  peers(): PeerInfo[];
  listenAddresses(): { rpc: string; p2p: string | null };
}

/** zk_verify calls verifying at once, node-wide (each holds a verifier thread ~3–9 ms). */
const MAX_RPC_VERIFICATIONS = 4;

/** Committed evidence consensus_evidence lists at most. */
const EVIDENCE_LISTED = 100;

export function nodeQuery(p: QueryParts): NodeQuery {
  const { executor, tree, mempool } = p;
  let rpcVerifications = 0;
  const blocks = executor.blocks;
  return {
    chainId: p.chainId,
    nodeId: p.nodeId,
    validatorAddress: p.validatorAddress,
    head: () => executor.head,
    params: () => {
      const l = executor.limits;
      return {
        protocolVersion: l.protocolVersion, maxBytes: l.maxBytes, maxTxs: l.maxTxs, maxGas: l.maxGas, minGasPrice: l.minGasPrice,
        admissionMinGasPrice: mempool.minGasPrice, maxTxBytes: mempool.maxTxBytes, synchrony: p.synchrony,
        evidenceMaxAgeHeights: executor.evidenceMaxAgeHeights,
      };
    },
    catchingUp: () => p.catchingUp(),
    earliestBlock: () => blocks.earliestHeight(),
    latestSnapshot: () => p.latestSnapshot(),

    heightOf: (hash) => blocks.heightOf(hash),
    block: (height) => blocks.getBlock(height),
    commit: async (height) => (await blocks.getCommit(height)) ?? (await blocks.getBlock(height + 1))?.lastCommit ?? undefined,

    tx: (hash) => blocks.getTx(hash),
    pending: (hash) => mempool.has(hash),
    submitTx: async (bytes) => {
      const stx = await mempool.add(bytes);
      p.admitted(stx);
      return stx;
    },
    waitForTx: (hash, timeoutMs) => p.waiters.wait(hash, timeoutMs),

    stateValue: (key, height) => tree.get(key, height),
    stateProof: async (key, height) => {
      const [root, proved] = await Promise.all([tree.root(height), tree.prove(key, height)]);
      return { root, ...proved };
    },
    contractCode: (address, height) => executor.contracts.code(new StateOverlay(tree, height), address),
    queryContract: (call) => executor.read(async ({ head, overlay, snapshot }) => ({
      height: head.height,
      outcome: await executor.contracts.query(
        overlay, snapshot, { chainId: head.chainId, height: head.height, time: head.time, origin: call.caller },
        call.caller, call.address, call.method, call.args, call.gasLimit,
      ),
    })),

    modelNameKeys: (prefix, after, limit) => executor.modelNameKeys(prefix, after, limit),
    verifyProof: async (item) => {
      const zk = executor.zk;
      if (zk === undefined) throw new Error('this chain runs no Groth16 verification (protocol 3 and later)');
      if (rpcVerifications >= MAX_RPC_VERIFICATIONS) throw new RpcError('server_busy', `${MAX_RPC_VERIFICATIONS} proofs are being verified for RPC clients; retry later`);
      rpcVerifications++;
      try {
        return (await zk.verifyEach([item]))[0]!;
      } finally {
        rpcVerifications--;
      }
    },

    validators: () => ({
      totalPower: p.validators.totalPower,
      validators: p.validators.validators.map((v) => ({
        address: v.address, name: p.validatorNames.get(toHex(v.address)) ?? null, publicKey: v.publicKey, power: v.power,
      })),
    }),
    consensusState: () => p.consensusState(),
    evidence: async () => ({ committed: await blocks.listEvidence(EVIDENCE_LISTED), pending: p.pendingEvidence() }),
    peers: () => p.peers(),
    listenAddresses: () => p.listenAddresses(),
  };
}

/** Where the driver is, with the proposer of its (height, round) and the vote power it has seen. */
export function consensusSnapshot(driver: ConsensusDriver, validators: ValidatorSet): ConsensusSnapshot {
  const s = driver.status();
  const power = driver.votePower();
  return {
    height: s.height, round: Math.max(s.round, 0), step: s.step, lockedRound: s.lockedRound, validRound: s.validRound,
    proposer: validators.proposer(Math.max(s.height, 1), Math.max(s.round, 0)).address,
    prevotePower: power.prevote, precommitPower: power.precommit, totalPower: validators.totalPower,
  };
}
