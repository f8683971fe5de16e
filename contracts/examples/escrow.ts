// An escrow over the token contract: deposits are pulled with transfer_from, released to the
// beneficiary or refunded to the depositor by the depositor.
import { Args, Values, Storage, key, revert, caller, selfAddress, callContract, u64le, readU64le, equal } from "../sdk";

const TOKEN = key("token");
const NEXT_ID = key("next_id");

// An escrow record: depositor (20) || beneficiary (20) || amount (8) || open (1).
function recordKey(id: u64): Uint8Array {
  return key("escrow", u64le(id));
}

function token(): Uint8Array {
  const t = Storage.get(TOKEN);
  if (t == null) revert("escrow: not initialised");
  return t!;
}

function pay(to: Uint8Array, amount: u64): void {
  const r = callContract(token(), "transfer", new Values().address(to).u64(amount).encode());
  if (!r.ok) revert("token transfer failed: " + r.reason());
}

function load(id: u64): Uint8Array {
  const rec = Storage.get(recordKey(id));
  if (rec == null) revert("no escrow " + id.toString());
  return rec!;
}

/** init(token): the token contract this escrow holds. */
export function init(): void {
  Storage.set(TOKEN, Args.input().readAddress());
}

/** deposit(amount, beneficiary): pulls amount from the caller (who must approve first); returns the id. */
export function deposit(): void {
  const args = Args.input();
  const amount = args.readU64();
  const beneficiary = args.readAddress();
  const r = callContract(token(), "transfer_from", new Values().address(caller()).address(selfAddress()).u64(amount).encode());
  if (!r.ok) revert("deposit failed: " + r.reason());
  const id = Storage.getU64(NEXT_ID);
  Storage.setU64(NEXT_ID, id + 1);
  const rec = new Uint8Array(49);
  rec.set(caller(), 0);
  rec.set(beneficiary, 20);
  rec.set(u64le(amount), 40);
  rec[48] = 1;
  Storage.set(recordKey(id), rec);
  new Values().u64(id).ret();
}

function close(id: u64, toBeneficiary: bool): void {
  const rec = load(id);
  if (!equal(rec.subarray(0, 20), caller())) revert("only the depositor may do that");
  if (rec[48] != 1) revert("escrow " + id.toString() + " is closed");
  rec[48] = 0;
  Storage.set(recordKey(id), rec);
  pay(toBeneficiary ? rec.slice(20, 40) : rec.slice(0, 20), readU64le(rec.slice(40, 48)));
  new Values().bool(true).ret();
}

/** release(id): pays the beneficiary. */
export function release(): void {
  close(Args.input().readU64(), true);
}

/** refund(id): pays the depositor back. */
export function refund(): void {
  close(Args.input().readU64(), false);
}

/** get(id): depositor, beneficiary, amount, open. */
export function get(): void {
  const rec = load(Args.input().readU64());
  new Values().address(rec.slice(0, 20)).address(rec.slice(20, 40)).u64(readU64le(rec.slice(40, 48))).bool(rec[48] == 1).ret();
}
