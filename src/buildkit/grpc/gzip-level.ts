// The gzip level for a compressed session's messages (call.ts), chosen by what holds the upload up.

/**
 * zlib's levels for the session's gzip. Each message is compressed before it is sent, one after the
 * other; at zlib's default (6) that is 57 MB/s of a source tree on one core here, for 5.0x,
 * so that on a 100 Mbit/s link the upload waited for the compressor; level 1 does 158 MB/s for
 * 4.1x, but sends a fifth more over a slow link. The level follows what holds the upload up.
 */
const FASTEST_LEVEL = 1;
const DENSEST_LEVEL = 6;

/** Messages smaller than this say little about the compressor's speed. */
const MEASURED_MESSAGE_BYTES = 64 * 1024;

/**
 * Between two compressions the upload waits for the link (the previous message to be written):
 * while that wait is longer than compressing took, a denser level costs no time and sends less;
 * while it is much shorter (a quarter), the compressor is what the upload waits for, and a faster
 * level helps.
 */
export class AdaptiveGzipLevel {
  level = FASTEST_LEVEL;
  private lastEnd: number | undefined;
  private lastDuration = 0;

  /** The level for a message of `bytes` starting to compress at `now` (ms). */
  start(bytes: number, now: number): number {
    if (bytes >= MEASURED_MESSAGE_BYTES && this.lastEnd !== undefined && this.lastDuration > 0) {
      const waited = now - this.lastEnd;
      if (waited > this.lastDuration) this.level = Math.min(DENSEST_LEVEL, this.level + 1);
      else if (waited < this.lastDuration / 4) this.level = Math.max(FASTEST_LEVEL, this.level - 1);
    }
    return this.level;
  }

  /** Notes a compression of `bytes` that started at `started` and ended at `now` (ms). */
  end(bytes: number, started: number, now: number): void {
    if (bytes < MEASURED_MESSAGE_BYTES) return;
    this.lastEnd = now;
    this.lastDuration = now - started;
  }
}
