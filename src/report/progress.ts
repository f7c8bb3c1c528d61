// BuildKit's Status stream, merged per vertex and printed as buildctl's --progress=plain prints
// it: `#N name`, `#N 0.123 output`, `#N DONE 0.4s`, `#N CACHED`, `#N ERROR: …`.
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { StatusResponse, Vertex, VertexStatus } from "../buildkit/proto/moby/buildkit/v1/control_pb.js";
import { locationsIn, type SourceLocation } from "../buildkit/error-details.js";

interface VertexState {
  digest: string;
  name: string;
  index?: number;
  startedMs?: number;
  completedMs?: number;
  cached: boolean;
  error: string;
  partialLine: string;
  lastLines: string[];
  printedDone: boolean;
  statusesDone: Set<string>;
  /** Progress items (a transfer) seen started but not yet completed. */
  statusesOpen: Set<string>;
}

export interface StepSummary {
  index: number;
  name: string;
  cached: boolean;
  error: string;
  durationMs: number;
}

/** A warning BuildKit raised (a Dockerfile check, a deprecated form), with where it points. */
export interface BuildWarning {
  message: string;
  locations: SourceLocation[];
  url: string;
}

const LAST_LINES = 10;
/** How long a DONE line may wait for its vertex's last transfer line. */
const HOLD_DONE_MS = 100;

function toMs(timestamp: Timestamp | undefined): number | undefined {
  if (!timestamp) return undefined;
  return Number(timestamp.seconds) * 1000 + timestamp.nanos / 1e6;
}

function seconds(ms: number): string {
  // Clock readings of start and end can be a hair apart the wrong way; never print -0.0s.
  return (Math.max(0, ms) / 1000).toFixed(1);
}

/** Log offsets: 3 decimals under 10 s, 2 under 100 s, 1 above, as buildctl prints them. */
function logOffset(ms: number): string {
  const s = Math.max(0, ms / 1000);
  return s.toFixed(s < 10 ? 3 : s < 100 ? 2 : 1);
}

export function humanBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${value}B` : `${value.toFixed(2).replace(/\.?0+$/, "")}${units[unit]}`;
}

export class PlainProgress {
  private readonly vertices = new Map<string, VertexState>();
  private nextIndex = 1;
  private current: VertexState | undefined;
  /** Text printed while handling one status message, written at its end. */
  private pending = "";
  private readonly raisedWarnings: BuildWarning[] = [];
  /** Completed vertices whose DONE line waits a moment (see onCompletion). */
  private readonly heldDone = new Set<VertexState>();
  private heldTimer: NodeJS.Timeout | undefined;

  constructor(private readonly write: (text: string) => void) {}

  update(status: StatusResponse): void {
    // One write per status message: a message can carry thousands of log lines, and a write per
    // line (a system call each on stderr) costs more than the rest of the printing together.
    const heldBefore = [...this.heldDone];
    try {
      this.printStatus(status);
      this.printHeld(heldBefore);
    } finally {
      this.flush();
    }
    clearTimeout(this.heldTimer);
    if (this.heldDone.size > 0) {
      this.heldTimer = setTimeout(() => {
        this.printHeld(this.heldDone);
        this.flush();
      }, HOLD_DONE_MS);
      this.heldTimer.unref();
    }
  }

  private printStatus(status: StatusResponse): void {
    // Headers first, then progress and logs, then completions: the order buildctl prints them.
    for (const vertex of status.vertexes) this.onVertex(vertex);
    for (const progress of status.statuses) this.onStatus(progress);
    for (const log of status.logs) {
      const state = this.vertices.get(log.vertex);
      if (state) this.onLog(state, Buffer.from(log.msg).toString("utf8"), toMs(log.timestamp));
    }
    for (const warning of status.warnings) {
      const message = Buffer.from(warning.short).toString("utf8");
      this.raisedWarnings.push({
        message,
        locations: locationsIn(warning.info, warning.ranges),
        url: warning.url,
      });
      const state = this.vertices.get(warning.vertex);
      if (state) this.line(state, `WARN: ${message}`);
    }
    for (const vertex of status.vertexes) this.onCompletion(this.state(vertex.digest));
    // Completions held back for a transfer that has now completed.
    for (const progress of status.statuses) {
      const state = this.vertices.get(progress.vertex);
      if (state && !state.printedDone) this.onCompletion(state);
    }
  }

  /** Prints the completions still held back for transfers that never reported their end. */
  finish(): void {
    clearTimeout(this.heldTimer);
    for (const state of this.vertices.values()) {
      if (state.printedDone || state.statusesOpen.size === 0) continue;
      state.statusesOpen.clear();
      this.onCompletion(state);
    }
    this.printHeld(this.heldDone);
    this.flush();
  }

  /** Warnings in the order they came, for annotations. */
  warnings(): BuildWarning[] {
    return [...this.raisedWarnings];
  }

  /** Steps in order, for the job summary. */
  steps(): StepSummary[] {
    return [...this.vertices.values()]
      .filter((state) => state.index !== undefined)
      .sort((a, b) => a.index! - b.index!)
      .map((state) => ({
        index: state.index!,
        name: state.name,
        cached: state.cached,
        error: state.error,
        durationMs:
          state.startedMs !== undefined && state.completedMs !== undefined
            ? state.completedMs - state.startedMs
            : 0,
      }));
  }

  /** buildctl's closing block for failed steps: their name and last log lines. */
  failureReport(): string {
    let text = "";
    for (const state of this.vertices.values()) {
      if (!state.error || state.index === undefined) continue;
      if (state.error.endsWith("context canceled")) continue;
      text += `------\n > ${state.name}:\n`;
      for (const line of state.lastLines) text += `${line}\n`;
      text += "------\n";
    }
    return text;
  }

  private state(digest: string): VertexState {
    let state = this.vertices.get(digest);
    if (!state) {
      state = {
        digest,
        name: "",
        cached: false,
        error: "",
        partialLine: "",
        lastLines: [],
        printedDone: false,
        statusesDone: new Set(),
        statusesOpen: new Set(),
      };
      this.vertices.set(digest, state);
    }
    return state;
  }

  private onVertex(vertex: Vertex): void {
    const state = this.state(vertex.digest);
    state.name = vertex.name || state.name;
    state.cached ||= vertex.cached;
    state.error = vertex.error || state.error;
    state.startedMs = toMs(vertex.started) ?? state.startedMs;
    if (vertex.started && !vertex.completed && !state.printedDone) {
      // Started again after a completion (BuildKit does this for the context loads): the earlier
      // completion was not the end, so its held DONE must not be printed.
      state.completedMs = undefined;
      this.heldDone.delete(state);
    } else {
      state.completedMs = toMs(vertex.completed) ?? state.completedMs;
    }
    if (state.startedMs === undefined && !state.cached && state.completedMs === undefined) return;
    this.focus(state);
  }

  private onCompletion(state: VertexState): void {
    if (state.index === undefined) return;
    // A vertex can complete a moment before its last transfer does; buildctl, which prints in
    // batches, shows the transfer first. Wait for it (or the end of the build) likewise.
    if (state.statusesOpen.size > 0) return;
    if (state.completedMs !== undefined && !state.printedDone) {
      // Held until the next message, another vertex's line, a short quiet spell or the end:
      // the transfer line that completes with it often comes in the message after.
      this.heldDone.add(state);
    } else if (state.cached && state.completedMs === undefined && !state.printedDone) {
      state.printedDone = true;
      this.focus(state);
      this.raw(`#${state.index} CACHED\n`);
    }
  }

  private printHeld(states: Iterable<VertexState>): void {
    for (const state of [...states]) {
      this.heldDone.delete(state);
      if (!state.printedDone) this.printCompletion(state);
    }
  }

  private printCompletion(state: VertexState): void {
    if (state.completedMs !== undefined) {
      this.focus(state);
      state.printedDone = true;
      if (state.partialLine) this.flushPartial(state);
      if (state.error) {
        this.raw(
          state.error.endsWith("context canceled")
            ? `#${state.index} CANCELED\n`
            : `#${state.index} ERROR: ${state.error}\n`,
        );
      } else if (state.cached) {
        this.raw(`#${state.index} CACHED\n`);
      } else {
        this.raw(
          `#${state.index} DONE ${seconds(state.completedMs - (state.startedMs ?? state.completedMs))}s\n`,
        );
      }
    }
  }

  private onStatus(progress: VertexStatus): void {
    const state = this.vertices.get(progress.vertex);
    if (!state || state.statusesDone.has(progress.id)) return;
    if (progress.completed === undefined) {
      state.statusesOpen.add(progress.id);
      return;
    }
    state.statusesOpen.delete(progress.id);
    state.statusesDone.add(progress.id);
    const current = Number(progress.current);
    const total = Number(progress.total);
    const amount =
      total > 0 ? `${humanBytes(current)} / ${humanBytes(total)}` : current > 0 ? humanBytes(current) : "";
    const started = toMs(progress.started);
    const completed = toMs(progress.completed);
    const elapsed = started !== undefined && completed !== undefined ? (completed - started) / 1000 : 0;
    const parts = [progress.id, amount, elapsed > 0.01 ? `${elapsed.toFixed(1)}s` : "", "done"].filter(
      Boolean,
    );
    this.line(state, parts.join(" "));
  }

  private onLog(state: VertexState, text: string, atMs: number | undefined): void {
    const offset = logOffset((atMs ?? Date.now()) - (state.startedMs ?? atMs ?? Date.now()));
    const lines = (state.partialLine + text).split("\n");
    state.partialLine = lines.pop() ?? "";
    for (const line of lines) {
      const printed = `#${this.indexOf(state)} ${offset} ${line.endsWith("\r") ? line.slice(0, -1) : line}`;
      this.focus(state);
      this.raw(`${printed}\n`);
      state.lastLines.push(printed);
      if (state.lastLines.length > LAST_LINES) state.lastLines.shift();
    }
  }

  private flushPartial(state: VertexState): void {
    const line = state.partialLine;
    state.partialLine = "";
    const printed = `#${state.index} ${line}`;
    this.raw(`${printed}\n`);
    state.lastLines.push(printed);
  }

  private indexOf(state: VertexState): number {
    state.index ??= this.nextIndex++;
    return state.index;
  }

  /** Switching to another vertex prints a blank line and its header, as buildctl does. */
  private focus(state: VertexState): void {
    if (this.current === state) return;
    // The vertex we leave prints its held DONE first, as buildctl closes a block before the next.
    if (this.current && this.heldDone.has(this.current)) this.printHeld([this.current]);
    this.indexOf(state);
    if (this.current !== undefined) this.raw("\n");
    this.current = state;
    this.raw(`#${state.index} ${state.name}\n`);
  }

  private line(state: VertexState, text: string): void {
    this.focus(state);
    this.raw(`#${state.index} ${text}\n`);
  }

  private raw(text: string): void {
    this.pending += text;
  }

  private flush(): void {
    if (this.pending === "") return;
    const text = this.pending;
    this.pending = "";
    this.write(text);
  }
}
