// The build as BuildKit's Status stream describes it: one step per vertex (its name, times, cache
// hit and error, and the transfers still running in it), numbered as the log first shows them,
// and the warnings BuildKit raised. Renderers (plain-progress.ts) print from it.
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { SourceLocation, Vertex, VertexStatus, VertexWarning } from "../buildkit/index.js";
import { locationsIn } from "../buildkit/index.js";

/** A source location and, when it is a file on this machine, its path. */
export interface LocalSourceLocation extends SourceLocation {
  path?: string;
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

export interface Step {
  digest: string;
  name: string;
  /** The step's number in the log, given when the log first shows it. */
  index?: number;
  startedMs?: number;
  completedMs?: number;
  cached: boolean;
  error: string;
  /** Progress items (a transfer) seen completed. */
  transfersDone: Set<string>;
  /** Progress items seen started but not yet completed. */
  transfersOpen: Set<string>;
}

/** A transfer that has just completed, for its line in the log. */
export interface CompletedTransfer {
  step: Step;
  id: string;
  current: number;
  total: number;
  elapsedSeconds: number;
}

export function toMs(timestamp: Timestamp | undefined): number | undefined {
  if (!timestamp) return undefined;
  return Number(timestamp.seconds) * 1000 + timestamp.nanos / 1e6;
}

export class BuildModel {
  private readonly byDigest = new Map<string, Step>();
  private nextIndex = 1;
  private readonly raised: BuildWarning[] = [];

  /** The step of a vertex, made the first time it is named. */
  step(digest: string): Step {
    let step = this.byDigest.get(digest);
    if (!step) {
      step = {
        digest,
        name: "",
        cached: false,
        error: "",
        transfersDone: new Set(),
        transfersOpen: new Set(),
      };
      this.byDigest.set(digest, step);
    }
    return step;
  }

  find(digest: string): Step | undefined {
    return this.byDigest.get(digest);
  }

  all(): IterableIterator<Step> {
    return this.byDigest.values();
  }

  /**
   * Merges a vertex update. A start after a completion (BuildKit does this for the context loads)
   * reopens the step unless `mayReopen` says its completion is final; the result says whether it did.
   */
  mergeVertex(vertex: Vertex, mayReopen: (step: Step) => boolean): { step: Step; reopened: boolean } {
    const step = this.step(vertex.digest);
    step.name = vertex.name || step.name;
    step.cached ||= vertex.cached;
    step.error = vertex.error || step.error;
    step.startedMs = toMs(vertex.started) ?? step.startedMs;
    if (vertex.started && !vertex.completed && mayReopen(step)) {
      step.completedMs = undefined;
      return { step, reopened: true };
    }
    step.completedMs = toMs(vertex.completed) ?? step.completedMs;
    return { step, reopened: false };
  }

  /** Merges a transfer's progress; returns it once, when it completes. */
  mergeTransfer(progress: VertexStatus): CompletedTransfer | undefined {
    const step = this.byDigest.get(progress.vertex);
    if (!step || step.transfersDone.has(progress.id)) return undefined;
    if (progress.completed === undefined) {
      step.transfersOpen.add(progress.id);
      return undefined;
    }
    step.transfersOpen.delete(progress.id);
    step.transfersDone.add(progress.id);
    const started = toMs(progress.started);
    const completed = toMs(progress.completed);
    return {
      step,
      id: progress.id,
      current: Number(progress.current),
      total: Number(progress.total),
      elapsedSeconds: started !== undefined && completed !== undefined ? (completed - started) / 1000 : 0,
    };
  }

  /** Records a warning; returns it with the step it belongs to, when known. */
  raise(warning: VertexWarning): { warning: BuildWarning; step: Step | undefined } {
    const raised: BuildWarning = {
      message: Buffer.from(warning.short).toString("utf8"),
      locations: locationsIn(warning.info, warning.ranges),
      url: warning.url,
    };
    this.raised.push(raised);
    return { warning: raised, step: this.byDigest.get(warning.vertex) };
  }

  /** The step's number, given now if the log has not shown it yet. */
  number(step: Step): number {
    step.index ??= this.nextIndex++;
    return step.index;
  }

  /** Warnings in the order they came, for annotations. */
  warnings(): BuildWarning[] {
    return [...this.raised];
  }

  /** Numbered steps in order, for the job summary. */
  summaries(): StepSummary[] {
    return [...this.byDigest.values()]
      .filter((step) => step.index !== undefined)
      .sort((a, b) => a.index! - b.index!)
      .map((step) => ({
        index: step.index!,
        name: step.name,
        cached: step.cached,
        error: step.error,
        durationMs:
          step.startedMs !== undefined && step.completedMs !== undefined
            ? step.completedMs - step.startedMs
            : 0,
      }));
  }
}
