/**
 * The flags a node's process runs with, given to node itself (not settable once it runs: V8 reads
 * them when it sizes the heap). The bin shim's shebang and `npm start` carry the same ones, and
 * `hallmark testnet` starts its nodes with them; test/node-flags.test.ts checks all three agree.
 *
 * --max-semi-space-size=8: left to itself V8 lets the new space grow to 128 MiB (also with the heap
 * limit below), and a node under load grew it that far with under 10 MiB of it live
 * (nodejs_heap_space_size_*_bytes during the testnet bench). 8 MiB caps it at ~22 MiB; what survives
 * a scavenge is small either way, so scavenges only come more often. Side by side under the same
 * testnet load (VARIANTS), 8 against 16: peak RSS 270 and 284 MiB against 293 and 294, and CPU per
 * transfer 571 and 577 µs against 589 and 560 (no difference beyond the noise).
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
export const NODE_PROCESS_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--max-old-space-size=768'];
