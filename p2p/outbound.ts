/**
 * One outbound long-lived stream (consensus or txs, to one peer): a bounded queue drained by one
 * writer. A peer that does not read loses messages, not our memory.
 */
import type { Stream } from '@libp2p/interface';
import { messageStream } from './host.ts';

/** Outbound bytes queued per peer and protocol before new messages are dropped. */
const MAX_QUEUE_BYTES = 32 * 1024 * 1024;
const MAX_QUEUE_MESSAGES = 20_000;

/** Sends to one peer on one protocol, in order; past the queue's bounds it drops and says so. */
export class Outbound {
  readonly #lp: ReturnType<typeof messageStream>;
  readonly #stream: Stream;
  #queue: Uint8Array[] = [];
  #bytes = 0;
  #writing = false;
  closed = false;
  readonly #onDropped: () => void;
  readonly #onError: (err: Error) => void;

  constructor(stream: Stream, maxMessageBytes: number, onDropped: () => void, onError: (err: Error) => void) {
    this.#stream = stream;
    this.#lp = messageStream(stream, maxMessageBytes);
    this.#onDropped = onDropped;
    this.#onError = onError;
  }

  send(message: Uint8Array): void {
    if (this.closed) return;
    if (this.#bytes + message.byteLength > MAX_QUEUE_BYTES || this.#queue.length >= MAX_QUEUE_MESSAGES) {
      this.#onDropped();
      return;
    }
    this.#queue.push(message);
    this.#bytes += message.byteLength;
    if (!this.#writing) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.closed) {
        const batch = this.#queue;
        this.#queue = [];
        this.#bytes = 0;
        await this.#lp.writeV(batch);
      }
    } catch (err) {
      this.close(err as Error);
      this.#onError(err as Error);
    } finally {
      this.#writing = false;
    }
  }

  close(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.#queue = [];
    if (err) this.#stream.abort(err);
    else void this.#stream.close().catch(() => {});
  }
}
