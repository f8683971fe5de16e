/**
 * The flags a node's process runs with, given to node itself (not settable once it runs: V8 reads
 * them when it sizes the heap). The bin shim's shebang and `npm start` carry the same ones, and
 * `hallmark testnet` starts its nodes with them; test/node-flags.test.ts checks all three agree.
 *
 * --max-semi-space-size=16: V8 sizes the young generation from the heap limit, which on a machine
 * with 24 GiB is 64 MiB a semi-space, and a node under load grew its new space to 128 MiB of which
 * under 10 MiB was live (nodejs_heap_space_size_*_bytes during the testnet bench). 16 MiB caps it
 * at 32 MiB; what survives a scavenge is small either way, so scavenges only come more often.
 */
export const NODE_PROCESS_FLAGS: readonly string[] = ['--max-semi-space-size=16'];
