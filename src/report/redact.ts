// Replaces known secret values with *** in a stream of text. BuildKit prints whatever a RUN
// prints, secrets included, and the log arrives in chunks that may cut a value in two, so the
// redactor holds back a tail that could still become a secret (at most the longest secret's
// length minus one) until the next chunk or the flush. Overlapping occurrences are hidden as
// one: the union of every match is replaced, so no part of any value shows.
export const MASK = "***";

/** Lines shorter than this of a multi-line secret are not masked alone: "{" would mask every brace. */
const MIN_LINE_LENGTH = 4;

/**
 * What to hide of a secret value: the value, and each line of a multi-line value on its own (the
 * log prints them one by one, each behind its step's prefix), trimmed, as the log may indent a
 * line differently. Short lines and PEM armour (-----BEGIN ...-----) are not secrets alone. The
 * redactor and the action's masking (GitHub's add-mask) hide the same pieces.
 */
export function secretPieces(secret: string): string[] {
  if (secret === "") return [];
  const lines = secret.split(/\r?\n/);
  if (lines.length === 1) return [secret];
  const pieces = lines
    .map((line) => line.trim())
    .filter((line) => line.length >= MIN_LINE_LENGTH && !line.startsWith("-----"));
  return [...new Set([secret, ...pieces])];
}

export class Redactor {
  private readonly secrets = new Set<string>();
  /** Secrets by first character, so most positions are rejected with one map lookup. */
  private readonly byFirst = new Map<string, string[]>();
  private maxLength = 0;
  /** Text received but not yet released: it may be the start of a secret. */
  private held = "";
  /** How many leading characters of `held` are inside a *** already released. */
  private coveredPrefix = 0;

  constructor(secrets: Iterable<string> = []) {
    for (const secret of secrets) this.add(secret);
  }

  /** Adds a value to hide from now on, with its lines (see secretPieces). */
  add(secret: string): void {
    for (const piece of secretPieces(secret)) this.addOne(piece);
  }

  get size(): number {
    return this.secrets.size;
  }

  /** Redacts one chunk; returns what can be printed now, holding back a possible partial secret. */
  push(chunk: string): string {
    if (this.secrets.size === 0 && this.held === "") return chunk;
    return this.process(this.held + chunk, false);
  }

  /** Returns whatever is still held back (redacted); the redactor is then ready for new text. */
  flush(): string {
    if (this.held === "") return "";
    return this.process(this.held, true);
  }

  /** Redacts a complete text on its own, without touching the streaming state. */
  redact(text: string): string {
    const saved = { held: this.held, coveredPrefix: this.coveredPrefix };
    this.held = "";
    this.coveredPrefix = 0;
    const result = this.process(text, true);
    this.held = saved.held;
    this.coveredPrefix = saved.coveredPrefix;
    return result;
  }

  private addOne(secret: string): void {
    if (secret === "" || this.secrets.has(secret)) return;
    this.secrets.add(secret);
    const first = secret[0]!;
    const list = this.byFirst.get(first) ?? [];
    list.push(secret);
    this.byFirst.set(first, list);
    this.maxLength = Math.max(this.maxLength, secret.length);
  }

  private process(text: string, final: boolean): string {
    // Ranges [start, end) to hide; the already-released *** counts as one that is printed.
    const ranges: Array<[number, number]> = [];
    if (this.coveredPrefix > 0) ranges.push([0, this.coveredPrefix]);
    // Where the held-back tail begins: the first position whose rest is a proper prefix of a secret.
    let cut = text.length;
    const tailStart = final ? text.length : Math.max(0, text.length - (this.maxLength - 1));
    for (let i = 0; i < text.length; i++) {
      const candidates = this.byFirst.get(text[i]!);
      if (!candidates) continue;
      for (const secret of candidates) {
        if (text.startsWith(secret, i)) {
          ranges.push([i, i + secret.length]);
        } else if (i >= tailStart && cut === text.length && secret.startsWith(text.slice(i))) {
          cut = i;
        }
      }
    }
    ranges.sort((a, b) => a[0] - b[0]);

    let output = "";
    let position = 0;
    // Hidden text that stays held keeps counting as hidden.
    let coveredPrefix = Math.max(0, this.coveredPrefix - cut);
    let index = 0;
    while (index < ranges.length && ranges[index]![0] < cut) {
      const start = ranges[index]![0];
      let end = ranges[index]![1];
      const alreadyPrinted = start === 0 && this.coveredPrefix > 0;
      let merged = alreadyPrinted;
      // Merge every range that overlaps this one (touching ranges stay separate).
      for (index++; index < ranges.length && ranges[index]![0] < end; index++) {
        end = Math.max(end, ranges[index]![1]);
        merged ||= ranges[index]![0] === 0 && this.coveredPrefix > 0;
      }
      output += text.slice(position, start);
      if (!merged) output += MASK;
      position = end;
      // A range that runs into the held tail has been printed as ***; remember how far it hides.
      if (end > cut) coveredPrefix = Math.max(coveredPrefix, end - cut);
    }
    if (position < cut) output += text.slice(position, cut);
    this.held = text.slice(cut);
    this.coveredPrefix = coveredPrefix;
    if (final) {
      this.held = "";
      this.coveredPrefix = 0;
    }
    return output;
  }
}
