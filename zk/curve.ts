/**
 * The BN254 curve zk/ verifies on: ffjavascript's WebAssembly curve built single-threaded
 * (`buildBn128(true)`: no worker threads, nothing that keeps the process alive, synchronous calls),
 * built once per thread on first use (~0.3 s) and shared. Also the few point operations the
 * verifier needs, always on Jacobian points: ffjavascript's mixed affine/Jacobian paths gave a
 * wrong sign for `G1.sub(affine, jacobian)` (issue 15), so nothing here mixes the two forms.
 *
 * In a worker thread, importing ffjavascript fails: the `web-worker` package it imports (for its
 * multi-threaded curves, which zk/ never builds) takes any non-main thread for one of its own
 * workers and throws. So there, before ffjavascript is first imported, a module hook resolves
 * `web-worker` to a stub whose constructor throws; the main thread keeps the real package
 * (snarkjs's multi-threaded curve needs it).
 */
import { registerHooks } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import type { Curve } from 'ffjavascript';

export type { Curve };

const WEB_WORKER_STUB =
  'data:text/javascript,' +
  encodeURIComponent('export default class Worker { constructor() { throw new Error("zk/: ffjavascript workers are disabled in this thread"); } }');

let building: Promise<Curve> | undefined;

/** The shared single-threaded curve (built on the first call). */
export function bn254(): Promise<Curve> {
  building ??= (async () => {
    if (!isMainThread) {
      registerHooks({
        resolve: (specifier, context, next) =>
          specifier === 'web-worker' ? { url: WEB_WORKER_STUB, format: 'module', shortCircuit: true } : next(specifier, context),
      });
    }
    const { buildBn128 } = await import('ffjavascript');
    return buildBn128(true);
  })();
  return building;
}

/** `a` as a Jacobian point (3 coordinates). */
export function jac(g: Curve['G1'], a: Uint8Array): Uint8Array {
  return a.byteLength === g.F.n8 * 3 ? a : g.toJacobian(a);
}

/** a + b, both taken to Jacobian first. */
export function addJ(g: Curve['G1'], a: Uint8Array, b: Uint8Array): Uint8Array {
  return g.add(jac(g, a), jac(g, b));
}

/** [k]a for a scalar 0 ≤ k < r (k = 0 gives the point at infinity). */
export function mulJ(g: Curve['G1'], a: Uint8Array, k: bigint): Uint8Array {
  if (k === 0n) return g.zero;
  return g.timesScalar(jac(g, a), k);
}

/** Whether the G2 point `p` (on the twist curve) is in the order-r subgroup: [r]p = O. */
export function inG2Subgroup(c: Curve, p: Uint8Array): boolean {
  return c.G2.isZero(c.G2.timesScalar(jac(c.G2, p), c.r));
}

/** The product of Miller loops over (G1, prepared G2) pairs; G1 points at infinity contribute 1. */
export function millerProduct(c: Curve, pairs: readonly (readonly [Uint8Array, Uint8Array])[]): Uint8Array {
  let f = c.F12.one;
  for (const [p, preQ] of pairs) {
    if (c.G1.isZero(p)) continue;
    f = c.F12.mul(f, c.millerLoop(c.prepareG1(jac(c.G1, p)), preQ));
  }
  return f;
}
