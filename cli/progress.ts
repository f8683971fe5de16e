/**
 * The progress bar of `model fingerprint`, `register` and `verify`: files, bytes, throughput and
 * ETA on stderr (cli-progress), drawn only when stderr is a terminal; otherwise nothing at all, so
 * piped and captured output stays clean.
 */
import cliProgress from 'cli-progress';
import type { FingerprintProgress } from '../models/fingerprint.ts';
import type { CliIo } from './context.ts';

export interface ProgressBar {
  /** The fingerprinting callback (models/files-fingerprint.ts onProgress). */
  onProgress?: (p: FingerprintProgress) => void;
  stop(): void;
}

const MB = 1_000_000;

/** A bar on `io.stderr` when it is a TTY, else a no-op. */
export function progressBar(io: CliIo): ProgressBar {
  const stream = io.stderr as { isTTY?: boolean } & NodeJS.WritableStream;
  if (stream.isTTY !== true) return { stop: () => {} };
  const start = performance.now();
  const bar = new cliProgress.SingleBar({
    stream,
    format: 'hashing [{bar}] {percentage}% | {files}/{totalFiles} files | {mb}/{totalMb} MB | {rate} MB/s | ETA {eta_formatted}',
    hideCursor: true,
    clearOnComplete: true,
    etaBuffer: 50,
  }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    onProgress: (p) => {
      const seconds = (performance.now() - start) / 1000;
      const payload = {
        files: p.files, totalFiles: p.totalFiles, mb: (p.bytes / MB).toFixed(1), totalMb: (p.totalBytes / MB).toFixed(1),
        rate: seconds > 0 ? (p.bytes / MB / seconds).toFixed(1) : '-',
      };
      if (!started) {
        bar.start(Math.max(1, p.totalBytes), p.bytes, payload);
        started = true;
      } else {
        bar.update(p.bytes, payload);
      }
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
