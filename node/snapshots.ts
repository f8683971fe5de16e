/**
 * The state snapshots this node takes and serves, under <data>/snapshots:
 *
 *   <height>/manifest.json   {format, height, protocol_version, root, chunks}, written last
 *   <height>/<index>.chunk   the chunks of state/snapshot.ts, each provable alone against `root`
 *   <height>.tmp/            a snapshot being written (removed at start: it never completed)
 *
 * Every `interval` heights, once the block of that height is committed, the tree's version of
 * that height is read and cut into chunks while blocks go on being committed (the tree is
 * versioned: nothing is copied or locked first), in the background, one snapshot at a time.
 * Files are written asynchronously (a snapshot never blocks consensus with a synchronous write)
 * and fsynced; the directory is renamed into place only when every chunk and the manifest are on
 * disk, and its parent synced, so a crash leaves no half snapshot to serve (a torn chunk served
 * would cost this node its peers' trust). The newest `keep` snapshots are kept.
 */
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { toHex } from '../chain/bytes.ts';
import { syncDirectory } from '../chain/durable-file.ts';
import type { SnapshotOffer, SnapshotSource } from '../p2p/snapshot-wire.ts';
import { SNAPSHOT_FORMAT, snapshotChunks } from '../state/snapshot.ts';
import type { StateTree } from '../state/tree.ts';
import type { Logger } from './log.ts';

export interface SnapshotSettings {
  /** Take a snapshot at every height that is a multiple of this; 0 takes none. */
  interval: number;
  /** Snapshots kept (the newest). */
  keep: number;
}

export interface SnapshotStats {
  taken: number;
  failed: number;
  /** Height of the newest complete snapshot, 0 when there is none. */
  latest: number;
  /** Seconds the last snapshot took. */
  lastSeconds: number;
}

const HEX32 = /^[0-9a-f]{64}$/;

/** Writes and fsyncs a new file without blocking the event loop. */
async function writeSynced(path: string, data: Uint8Array | string): Promise<void> {
  const file = await open(path, 'w');
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
}

function manifestOf(raw: string): SnapshotOffer {
  const m = JSON.parse(raw) as Record<string, unknown>;
  const int = (k: string) => {
    const v = m[k];
    if (!Number.isSafeInteger(v) || (v as number) < 0) throw new Error(`manifest ${k}: expected an integer`);
    return v as number;
  };
  const root = m.root;
  if (typeof root !== 'string' || !HEX32.test(root)) throw new Error('manifest root: expected 64 hex digits');
  return { format: int('format'), height: int('height'), protocolVersion: int('protocol_version'), root: Buffer.from(root, 'hex'), chunks: int('chunks') };
}

export class SnapshotStore implements SnapshotSource {
  readonly dir: string;
  readonly #tree: StateTree;
  readonly #protocolVersion: number;
  readonly #settings: SnapshotSettings;
  readonly #log: Logger;
  readonly #chunkBytes: number | undefined;
  /** Complete snapshots by height. */
  readonly #have = new Map<number, SnapshotOffer>();
  #taking: Promise<void> | null = null;
  #closed = false;
  readonly stats: SnapshotStats = { taken: 0, failed: 0, latest: 0, lastSeconds: 0 };

  private constructor(dir: string, o: { tree: StateTree; protocolVersion: number; settings: SnapshotSettings; log: Logger; chunkBytes?: number }) {
    this.dir = dir;
    this.#tree = o.tree;
    this.#protocolVersion = o.protocolVersion;
    this.#settings = o.settings;
    this.#log = o.log;
    this.#chunkBytes = o.chunkBytes;
  }

  /** Opens <dir>, dropping snapshots that never completed and reading the manifests of the rest. */
  static async open(dir: string, o: { tree: StateTree; protocolVersion: number; settings: SnapshotSettings; log: Logger; chunkBytes?: number }): Promise<SnapshotStore> {
    const store = new SnapshotStore(dir, o);
    await mkdir(dir, { recursive: true });
    for (const name of await readdir(dir)) {
      const path = join(dir, name);
      if (!/^\d+$/.test(name)) {
        await rm(path, { recursive: true, force: true });
        continue;
      }
      try {
        const offer = manifestOf(await readFile(join(path, 'manifest.json'), 'utf8'));
        if (offer.height !== Number(name) || offer.format !== SNAPSHOT_FORMAT || offer.protocolVersion !== o.protocolVersion) throw new Error('of another height, format or protocol');
        store.#have.set(offer.height, offer);
      } catch (err) {
        o.log.warn('dropping an unreadable snapshot', { path, error: (err as Error).message });
        await rm(path, { recursive: true, force: true });
      }
    }
    store.stats.latest = Math.max(0, ...store.#have.keys());
    return store;
  }

  list(): SnapshotOffer[] {
    return [...this.#have.values()].sort((a, b) => b.height - a.height);
  }

  async chunk(height: number, index: number): Promise<Uint8Array | undefined> {
    const offer = this.#have.get(height);
    if (offer === undefined || index >= offer.chunks) return undefined;
    try {
      return new Uint8Array(await readFile(join(this.dir, String(height), `${index}.chunk`)));
    } catch {
      return undefined; // pruned since it was listed
    }
  }

  /** Block `height` was committed: takes a snapshot of it if the interval says so and none is being taken. */
  committed(height: number): void {
    const { interval } = this.#settings;
    if (interval === 0 || height % interval !== 0 || this.#taking !== null || this.#closed || this.#have.has(height)) return;
    this.#taking = this.take(height).catch((err: unknown) => {
      this.stats.failed++;
      this.#log.warn('could not take a state snapshot', { height, error: err });
    }).finally(() => {
      this.#taking = null;
    });
  }

  /** Writes the snapshot of `height` (a committed tree version) and prunes to `keep`. */
  async take(height: number): Promise<void> {
    const started = performance.now();
    const tmp = join(this.dir, `${height}.tmp`);
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    const root = await this.#tree.root(height);
    let chunks = 0;
    let bytes = 0;
    for await (const chunk of snapshotChunks(this.#tree, height, this.#chunkBytes === undefined ? {} : { chunkBytes: this.#chunkBytes })) {
      if (this.#closed) {
        await rm(tmp, { recursive: true, force: true });
        return;
      }
      await writeSynced(join(tmp, `${chunks}.chunk`), chunk);
      chunks++;
      bytes += chunk.byteLength;
    }
    const offer: SnapshotOffer = { format: SNAPSHOT_FORMAT, height, protocolVersion: this.#protocolVersion, root, chunks };
    const manifest = { format: offer.format, height, protocol_version: offer.protocolVersion, root: toHex(root), chunks };
    await writeSynced(join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    syncDirectory(tmp);
    await rename(tmp, join(this.dir, String(height)));
    syncDirectory(this.dir);
    this.#have.set(height, offer);
    this.stats.taken++;
    this.stats.latest = Math.max(this.stats.latest, height);
    this.stats.lastSeconds = (performance.now() - started) / 1000;
    this.#log.info('took a state snapshot', { height, chunks, bytes, seconds: Number(this.stats.lastSeconds.toFixed(2)) });
    const old = [...this.#have.keys()].sort((a, b) => b - a).slice(this.#settings.keep);
    for (const h of old) {
      this.#have.delete(h);
      await rm(join(this.dir, String(h)), { recursive: true, force: true });
    }
  }

  /** Stops a snapshot being taken (it is dropped) and waits for it. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#taking;
  }
}
