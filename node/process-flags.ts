/**
 * The flags a node's process runs with, given to node itself (not settable once it runs: V8 reads
 * them when it sizes the heap). The bin shim's shebang and `npm start` carry the same ones, and
 * `hallmark testnet` starts its nodes with them; test/node-flags.test.ts checks all three agree.
 *
 * --max-semi-space-size=16: V8 sizes the young generation from the heap limit, which on a machine
 * with 24 GiB is 64 MiB a semi-space, and a node under load grew its new space to 128 MiB of which
 * under 10 MiB was live (nodejs_heap_space_size_*_bytes during the testnet bench). 16 MiB caps it
 * at 32 MiB; what survives a scavenge is small either way, so scavenges only come more often.
 *
 * --max-old-space-size=1024: V8 lets the old generation grow to a multiple of what was live after
 * its last full collection, and that multiple depends on the heap limit: 4x when the limit is 2 GiB
 * or more (the default on a machine with 24 GiB), 1.3x-2x below it. A testnet node at saturation
 * holds ~90 MiB live; with the default limit its RSS rose to ~460 MiB, with this one to ~300 MiB,
 * at the same CPU per transaction (bench/testnet.bench.ts, nodes side by side with 512, 1024, 1536
 * and 2048). What a node holds is bounded well inside 1 GiB (mempool 32 MiB of transactions, the
 * state tree's caches 64 MiB, RPC 64 requests of at most 1 MiB, code ~50 MiB), and p2p/memory.ts
 * sheds block sync and inbound connections at 75% and 85% of this limit before it could be reached.
 */
export const NODE_PROCESS_FLAGS: readonly string[] = ['--max-semi-space-size=16', '--max-old-space-size=1024'];
