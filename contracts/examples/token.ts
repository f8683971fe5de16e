// A fungible token: balances, transfers, allowances, and Transfer / Approval events.
import { Args, Values, Storage, key, revert, caller, emit, sha256, utf8, u64le, fromUtf8 } from "../sdk";

const NAME = key("name");
const SYMBOL = key("symbol");
const SUPPLY = key("supply");

function balanceKey(owner: Uint8Array): Uint8Array {
  return key("balance", owner);
}

function allowanceKey(owner: Uint8Array, spender: Uint8Array): Uint8Array {
  const both = new Uint8Array(40);
  both.set(owner, 0);
  both.set(spender, 20);
  return key("allowance", both);
}

function move(from: Uint8Array, to: Uint8Array, amount: u64): void {
  const have = Storage.getU64(balanceKey(from));
  if (have < amount) revert("insufficient balance");
  Storage.setU64(balanceKey(from), have - amount);
  const theirs = Storage.getU64(balanceKey(to));
  if (theirs + amount < theirs) revert("balance overflow");
  Storage.setU64(balanceKey(to), theirs + amount);
  emit([sha256(utf8("Transfer")), from, to], u64le(amount));
}

/** init(name, symbol, supply): mints the supply to the deployer. */
export function init(): void {
  const args = Args.input();
  Storage.set(NAME, utf8(args.readString()));
  Storage.set(SYMBOL, utf8(args.readString()));
  const supply = args.readU64();
  Storage.setU64(SUPPLY, supply);
  Storage.setU64(balanceKey(caller()), supply);
  emit([sha256(utf8("Transfer")), new Uint8Array(20), caller()], u64le(supply));
}

export function name(): void {
  new Values().string(fromUtf8(Storage.get(NAME)!)).ret();
}

export function symbol(): void {
  new Values().string(fromUtf8(Storage.get(SYMBOL)!)).ret();
}

export function total_supply(): void {
  new Values().u64(Storage.getU64(SUPPLY)).ret();
}

export function balance_of(): void {
  new Values().u64(Storage.getU64(balanceKey(Args.input().readAddress()))).ret();
}

/** transfer(to, amount) from the caller. */
export function transfer(): void {
  const args = Args.input();
  const to = args.readAddress();
  move(caller(), to, args.readU64());
  new Values().bool(true).ret();
}

/** approve(spender, amount): lets spender move up to amount of the caller's tokens. */
export function approve(): void {
  const args = Args.input();
  const spender = args.readAddress();
  const amount = args.readU64();
  Storage.setU64(allowanceKey(caller(), spender), amount);
  emit([sha256(utf8("Approval")), caller(), spender], u64le(amount));
  new Values().bool(true).ret();
}

export function allowance(): void {
  const args = Args.input();
  const owner = args.readAddress();
  new Values().u64(Storage.getU64(allowanceKey(owner, args.readAddress()))).ret();
}

/** transfer_from(from, to, amount) by an approved spender (the caller). */
export function transfer_from(): void {
  const args = Args.input();
  const from = args.readAddress();
  const to = args.readAddress();
  const amount = args.readU64();
  const k = allowanceKey(from, caller());
  const allowed = Storage.getU64(k);
  if (allowed < amount) revert("allowance exceeded");
  Storage.setU64(k, allowed - amount);
  move(from, to, amount);
  new Values().bool(true).ret();
}
