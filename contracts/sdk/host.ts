// The host functions of docs/contracts.md, imported from module `hallmark`. Pointers and lengths
// are offsets into this module's memory; the SDK's other files wrap them in safer helpers.

@external("hallmark", "input_size") export declare function input_size(): i32;
@external("hallmark", "input_read") export declare function input_read(dst: usize): void;
@external("hallmark", "return_data") export declare function return_data(ptr: usize, len: i32): void;
@external("hallmark", "revert") export declare function revert_raw(ptr: usize, len: i32): void;
@external("hallmark", "debug_log") export declare function debug_log(ptr: usize, len: i32): void;
@external("hallmark", "storage_read") export declare function storage_read(key: usize, keyLen: i32, dst: usize, cap: i32): i32;
@external("hallmark", "storage_write") export declare function storage_write(key: usize, keyLen: i32, val: usize, valLen: i32): void;
@external("hallmark", "storage_remove") export declare function storage_remove(key: usize, keyLen: i32): i32;
@external("hallmark", "storage_has") export declare function storage_has(key: usize, keyLen: i32): i32;
@external("hallmark", "storage_next") export declare function storage_next(prefix: usize, prefixLen: i32, after: usize, afterLen: i32, dst: usize, cap: i32): i32;
@external("hallmark", "caller") export declare function caller(dst: usize): void;
@external("hallmark", "self_address") export declare function self_address(dst: usize): void;
@external("hallmark", "origin") export declare function origin(dst: usize): void;
@external("hallmark", "block_height") export declare function block_height(): i64;
@external("hallmark", "block_time") export declare function block_time(): i64;
@external("hallmark", "chain_id") export declare function chain_id(dst: usize, cap: i32): i32;
@external("hallmark", "gas_left") export declare function gas_left(): i64;
@external("hallmark", "value") export declare function value(): i64;
@external("hallmark", "emit") export declare function emit(topics: usize, topicCount: i32, data: usize, dataLen: i32): void;
@external("hallmark", "sha256") export declare function sha256(ptr: usize, len: i32, dst: usize): void;
@external("hallmark", "ed25519_verify") export declare function ed25519_verify(pubkey: usize, msg: usize, msgLen: i32, sig: usize): i32;
@external("hallmark", "call") export declare function call(addr: usize, input: usize, inputLen: i32, method: usize, methodLen: i32, value: i64, gas: i64): i32;
@external("hallmark", "returndata_size") export declare function returndata_size(): i32;
@external("hallmark", "returndata_read") export declare function returndata_read(dst: usize): void;
@external("hallmark", "groth16_verify") export declare function groth16_verify(keyHash: usize, keyHashLen: i32, proof: usize, proofLen: i32, signals: usize, signalsLen: i32): i32;
