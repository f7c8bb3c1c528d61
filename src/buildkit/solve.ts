// One build: Status and Solve together on the same ref (Status waits only about 6 s for the
// job to exist), with the session opened before. The signal cancels both.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { BuildkitClient } from "./client.js";
import {
  Control,
  type SolveRequestSchema,
  type StatusResponse,
} from "./proto/moby/buildkit/v1/control_pb.js";
import { callServerStream, callUnary } from "./rpc.js";
import { newIdentifier } from "./session/tunnel.js";
import { CancelledError } from "./errors.js";

export interface ExporterRequest {
  type: string;
  attrs: Record<string, string>;
}

/** A cache import or export as the Solve request takes it. */
export interface CacheEntry {
  type: string;
  attrs: Record<string, string>;
}

export interface SolveOptions {
  /** The build's ref; a new one when absent. A gateway client sets it to address LLBBridge calls. */
  ref?: string;
  sessionId: string;
  frontend: string;
  frontendAttrs: Record<string, string>;
  exporters: ExporterRequest[];
  entitlements?: string[];
  cacheImports?: CacheEntry[];
  cacheExports?: CacheEntry[];
  onStatus: (status: StatusResponse) => void;
  signal?: AbortSignal;
}

/** How long Status may stay quiet after Solve returns before we stop waiting for its end. */
const STATUS_DRAIN_MS = 5_000;

export async function solve(client: BuildkitClient, options: SolveOptions): Promise<Record<string, string>> {
  const ref = options.ref ?? newIdentifier();
  const status = followStatus(client, ref, options);
  const [first] = options.exporters;
  const request: MessageInitShape<typeof SolveRequestSchema> = {
    ref,
    session: options.sessionId,
    frontend: options.frontend,
    frontendAttrs: options.frontendAttrs,
    exporters: options.exporters,
    // Daemons before v0.13 read only the first exporter, from the older fields.
    exporterDeprecated: first?.type ?? "",
    exporterAttrsDeprecated: first?.attrs ?? {},
    entitlements: options.entitlements ?? [],
    cache: { imports: options.cacheImports ?? [], exports: options.cacheExports ?? [] },
  };
  try {
    const response = await callUnary(client.connection, Control.method.solve, request, {
      timeoutMs: "none",
      signal: options.signal,
    });
    await status.drained();
    return { ...response.exporterResponse };
  } catch (error) {
    await status.drained();
    if (options.signal?.aborted) throw new CancelledError("The build was cancelled.");
    throw client.translateBuildFailure(error, options.signal);
  }
}

function followStatus(client: BuildkitClient, ref: string, options: SolveOptions) {
  const controller = new AbortController();
  const abort = () => controller.abort();
  options.signal?.addEventListener("abort", abort, { once: true });
  const stream = callServerStream(
    client.connection,
    Control.method.status,
    { ref },
    { signal: controller.signal },
  );
  let idleTimer: NodeJS.Timeout | undefined;
  let draining = false;
  let finished = false;
  const resetIdle = () => {
    // Once the stream has ended there is nothing to wait for: a timer now would only hold the
    // process open for STATUS_DRAIN_MS.
    if (!draining || finished) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(abort, STATUS_DRAIN_MS);
  };
  stream.on("data", (update: StatusResponse) => {
    resetIdle();
    options.onStatus(update);
  });
  const ended = new Promise<void>((resolve) => {
    // Status ends with the job; an error here (cancel, unknown job) says nothing Solve does not.
    stream.on("error", () => resolve());
    stream.on("end", () => resolve());
  }).finally(() => {
    finished = true;
    clearTimeout(idleTimer);
    options.signal?.removeEventListener("abort", abort);
  });
  return {
    drained: () => {
      draining = true;
      resetIdle();
      return ended;
    },
  };
}
