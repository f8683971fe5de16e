// A counter: `increment` adds 1 (or its u64 argument), `get` returns the count.
import { Args, Values, Storage, key, revert } from "../sdk";

const COUNT = key("count");

export function increment(): void {
  const args = Args.input();
  const by: u64 = args.remaining > 0 ? args.readU64() : 1;
  const now = Storage.getU64(COUNT);
  if (now + by < now) revert("counter overflow");
  Storage.setU64(COUNT, now + by);
  new Values().u64(now + by).ret();
}

export function get(): void {
  new Values().u64(Storage.getU64(COUNT)).ret();
}
