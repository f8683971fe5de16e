/**
 * The JSON-RPC method table: every method the server offers, one file per family under methods/
 * (chain, tx, state, contract, model, zk, consensus, net), each with a zod schema for its params and one for
 * its result, and a handler that reads and writes only through NodeQuery (query.ts). The server
 * (server.ts) validates params with the schema before calling the handler, the OpenRPC document
 * (openrpc.ts) is generated from the same schemas, and the client (client.ts) is typed and checked
 * by them, so the three cannot drift apart.
 *
 * Errors a handler means to send are RpcError values with a code from RPC_ERRORS (errors.ts);
 * anything else it throws is an internal error (logged, never shown to the client).
 */
import type { z } from 'zod';
import { RPC_ERRORS } from './errors.ts';
import { defineRpcMethod, NoParams, type RpcMethod } from './method.ts';
import { chainGetBlock, chainGetCommit, chainGetParams, chainStatus } from './methods/chain.ts';
import { consensusEvidence, consensusState, consensusValidators } from './methods/consensus.ts';
import { contractGetCode, contractQuery } from './methods/contract.ts';
import { MODEL_METHODS } from './methods/model.ts';
import { netInfo } from './methods/net.ts';
import { stateGetAccount, stateGetProof } from './methods/state.ts';
import { txBroadcast, txGet } from './methods/tx.ts';
import { ZK_METHODS } from './methods/zk.ts';
import { openRpcDocument, OpenRpcDocumentSchema } from './openrpc.ts';

export { RPC_ERRORS, RpcError, type RpcErrorName, type RpcIssue } from './errors.ts';
export { defineRpcMethod, type RpcContext, type RpcLog, type RpcMethod } from './method.ts';
export { DEFAULT_WAIT_MS } from './methods/tx.ts';
export { QUERY_GAS_CAP } from './methods/contract.ts';

const rpcDiscover = defineRpcMethod({
  name: 'rpc.discover',
  summary: 'The OpenRPC 1.2.6 document describing every method of this server.',
  params: NoParams,
  result: OpenRpcDocumentSchema,
  errors: [],
  async handler(_node, _p, ctx) {
    return openRpcDocument(ctx.methods, RPC_ERRORS);
  },
});

const TABLE = [
  chainStatus, chainGetParams, chainGetBlock, chainGetCommit, txBroadcast, txGet, stateGetAccount, stateGetProof,
  contractGetCode, contractQuery, ...MODEL_METHODS, ...ZK_METHODS, consensusValidators, consensusState, consensusEvidence, netInfo, rpcDiscover,
] as const;

/** Every method the server offers, in the order the docs list them. */
export const RPC_METHODS: readonly RpcMethod[] = Object.freeze([...TABLE]);

// What a client of this table sends and gets back, by method name (client.ts).
export type RpcMethodName = (typeof TABLE)[number]['name'];
type MethodNamed<N extends RpcMethodName> = Extract<(typeof TABLE)[number], { name: N }>;
/** The params a client sends (the schema's input side: hex and addresses as strings). */
export type RpcParams<N extends RpcMethodName> = z.input<MethodNamed<N>['params']>;
export type RpcResult<N extends RpcMethodName> = z.output<MethodNamed<N>['result']>;
