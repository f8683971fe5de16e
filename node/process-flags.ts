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
 * --max-old-space-size=768: V8 lets the old generation grow to a multiple of what was live after
 * its last full collection, and that multiple depends on the heap limit: 4x when the limit is 2 GiB
 * or more (the default on a machine with 24 GiB), 1.3x-2x below it. A testnet node at saturation
 * holds ~90 MiB live. Nodes side by side under the same load (bench/testnet.bench.ts VARIANTS),
 * peak RSS: default 459 MiB, 2048: 386, 1536: 314, 1024: 298-305, 768: 284, 512: 276-290, at the
 * same CPU per transaction. What a node holds is bounded well inside 768 MiB (mempool 32 MiB of
 * transactions, the state tree's caches 64 MiB, 64 RPC requests of at most 1 MiB each, code ~50
 * MiB), and p2p/memory.ts sheds block sync and inbound connections at 75% and 85% of this limit.
 */
export const NODE_PROCESS_FLAGS: readonly string[] = ['--max-semi-space-size=16', '--max-old-space-size=768'];
