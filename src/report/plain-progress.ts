// BuildKit's Status stream printed as buildctl's --progress=plain prints it: `#N name`,
// `#N 0.123 output`, `#N DONE 0.4s`, `#N CACHED`, `#N ERROR: …`. The steps themselves are kept
// in a BuildModel; this file only decides what to print and when.
import type { StatusResponse } from "../buildkit/index.js";
import {
  BuildModel,
  toMs,
  type BuildWarning,
  type CompletedTransfer,
  type Step,
  type StepSummary,
} from "./build-model.js";

/** What the log has shown of a step. */
interface Printed {
  partialLine: string;
  lastLines: string[];
  done: boolean;
}

const LAST_LINES = 10;
/** How long a DONE line may wait for its vertex's last transfer line. */
const HOLD_DONE_MS = 100;

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
  private readonly model = new BuildModel();
  private readonly printed = new Map<Step, Printed>();
  private current: Step | undefined;
  /** Text printed while handling one status message, written at its end. */
  private pending = "";
  /** Completed steps whose DONE line waits a moment (see onCompletion). */
  private readonly heldDone = new Set<Step>();
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
    for (const vertex of status.vertexes) {
      const { step, reopened } = this.model.mergeVertex(vertex, (step) => !this.shown(step).done);
      // A completion that was not the end: its held DONE must not be printed.
      if (reopened) this.heldDone.delete(step);
      if (step.startedMs === undefined && !step.cached && step.completedMs === undefined) continue;
      this.focus(step);
    }
    for (const progress of status.statuses) {
      const transfer = this.model.mergeTransfer(progress);
      if (transfer) this.line(transfer.step, transferLine(transfer));
    }
    for (const log of status.logs) {
      const step = this.model.find(log.vertex);
      if (step) this.onLog(step, Buffer.from(log.msg).toString("utf8"), toMs(log.timestamp));
    }
    for (const warning of status.warnings) {
      const { warning: raised, step } = this.model.raise(warning);
      if (step) this.line(step, `WARN: ${raised.message}`);
    }
    for (const vertex of status.vertexes) this.onCompletion(this.model.step(vertex.digest));
    // Completions held back for a transfer that has now completed.
    for (const progress of status.statuses) {
      const step = this.model.find(progress.vertex);
      if (step && !this.shown(step).done) this.onCompletion(step);
    }
  }

  /** Prints the completions still held back for transfers that never reported their end. */
  finish(): void {
    clearTimeout(this.heldTimer);
    for (const step of this.model.all()) {
      if (this.shown(step).done || step.transfersOpen.size === 0) continue;
      step.transfersOpen.clear();
      this.onCompletion(step);
    }
    this.printHeld(this.heldDone);
    this.flush();
  }

  /** Warnings in the order they came, for annotations. */
  warnings(): BuildWarning[] {
    return this.model.warnings();
  }

  /** Steps in order, for the job summary. */
  steps(): StepSummary[] {
    return this.model.summaries();
  }

  /** buildctl's closing block for failed steps: their name and last log lines. */
  failureReport(): string {
    let text = "";
    for (const step of this.model.all()) {
      if (!step.error || step.index === undefined) continue;
      if (step.error.endsWith("context canceled")) continue;
      text += `------\n > ${step.name}:\n`;
      for (const line of this.shown(step).lastLines) text += `${line}\n`;
      text += "------\n";
    }
    return text;
  }

  private shown(step: Step): Printed {
    let printed = this.printed.get(step);
    if (!printed) {
      printed = { partialLine: "", lastLines: [], done: false };
      this.printed.set(step, printed);
    }
    return printed;
  }

  private onCompletion(step: Step): void {
    if (step.index === undefined) return;
    // A vertex can complete a moment before its last transfer does; buildctl, which prints in
    // batches, shows the transfer first. Wait for it (or the end of the build) likewise.
    if (step.transfersOpen.size > 0) return;
    const printed = this.shown(step);
    if (step.completedMs !== undefined && !printed.done) {
      // Held until the next message, another vertex's line, a short quiet spell or the end:
      // the transfer line that completes with it often comes in the message after.
      this.heldDone.add(step);
    } else if (step.cached && step.completedMs === undefined && !printed.done) {
      printed.done = true;
      this.focus(step);
      this.raw(`#${step.index} CACHED\n`);
    }
  }

  private printHeld(steps: Iterable<Step>): void {
    for (const step of [...steps]) {
      this.heldDone.delete(step);
      if (!this.shown(step).done) this.printCompletion(step);
    }
  }

  private printCompletion(step: Step): void {
    if (step.completedMs === undefined) return;
    this.focus(step);
    const printed = this.shown(step);
    printed.done = true;
    if (printed.partialLine) this.flushPartial(step);
    if (step.error) {
      this.raw(
        step.error.endsWith("context canceled")
          ? `#${step.index} CANCELED\n`
          : `#${step.index} ERROR: ${step.error}\n`,
      );
    } else if (step.cached) {
      this.raw(`#${step.index} CACHED\n`);
    } else {
      this.raw(`#${step.index} DONE ${seconds(step.completedMs - (step.startedMs ?? step.completedMs))}s\n`);
    }
  }

  private onLog(step: Step, text: string, atMs: number | undefined): void {
    const printed = this.shown(step);
    const offset = logOffset((atMs ?? Date.now()) - (step.startedMs ?? atMs ?? Date.now()));
    const lines = (printed.partialLine + text).split("\n");
    printed.partialLine = lines.pop() ?? "";
    for (const line of lines) {
      const shown = `#${this.model.number(step)} ${offset} ${line.endsWith("\r") ? line.slice(0, -1) : line}`;
      this.focus(step);
      this.raw(`${shown}\n`);
      printed.lastLines.push(shown);
      if (printed.lastLines.length > LAST_LINES) printed.lastLines.shift();
    }
  }

  private flushPartial(step: Step): void {
    const printed = this.shown(step);
    const shown = `#${step.index} ${printed.partialLine}`;
    printed.partialLine = "";
    this.raw(`${shown}\n`);
    printed.lastLines.push(shown);
  }

  /** Switching to another vertex prints a blank line and its header, as buildctl does. */
  private focus(step: Step): void {
    if (this.current === step) return;
    // The vertex we leave prints its held DONE first, as buildctl closes a block before the next.
    if (this.current && this.heldDone.has(this.current)) this.printHeld([this.current]);
    this.model.number(step);
    if (this.current !== undefined) this.raw("\n");
    this.current = step;
    this.raw(`#${step.index} ${step.name}\n`);
  }

  private line(step: Step, text: string): void {
    this.focus(step);
    this.raw(`#${step.index} ${text}\n`);
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

/** `ID 1.2kB / 3.4kB 0.5s done`, as buildctl prints a finished transfer. */
function transferLine(transfer: CompletedTransfer): string {
  const { current, total, elapsedSeconds } = transfer;
  const amount =
    total > 0 ? `${humanBytes(current)} / ${humanBytes(total)}` : current > 0 ? humanBytes(current) : "";
  return [transfer.id, amount, elapsedSeconds > 0.01 ? `${elapsedSeconds.toFixed(1)}s` : "", "done"]
    .filter(Boolean)
    .join(" ");
}
