// A frontend subrequest (buildx's --call: check, outline, targets) through the gateway API. A plain
// Control.Solve drops the frontend's answer (the daemon keeps only `frontend.*` metadata keys), so
// we act as the gateway client buildctl is: Control.Solve with no frontend and no definition on ref
// R, then LLBBridge.Solve with requestid=frontend.<name> and LLBBridge.Return, each carrying
// R in the buildkit-controlapi-buildid header. Control.Solve waits for Return, so every path
// ends in a Return (a result or an error) or in cancelling the whole call.
import { Metadata, Status } from "./grpc/status.js";
import type { BuildkitClient } from "./client.js";
import { BuildkitError, CancelledError } from "./errors.js";
import { LLBBridge, type SolveResponse } from "./proto/moby/buildkit/v1/frontend/gateway_pb.js";
import type { StatusResponse } from "./proto/moby/buildkit/v1/control_pb.js";
import { callUnary, isServiceError } from "./rpc.js";
import { solve } from "./solve.js";
import { newIdentifier } from "./session/tunnel.js";

/** The subrequests of the Dockerfile frontend; buildx's `check` is `lint`. */
export type FrontendCall = "lint" | "outline" | "targets";

export interface FrontendCallOptions {
  call: FrontendCall;
  /** The session that serves the Dockerfile and context, as for a build. */
  sessionId: string;
  /** The frontend to ask, e.g. dockerfile.v0. */
  frontend: string;
  /** The same attrs as for a build of it (filename, target, build-arg:…). Never a credential. */
  frontendAttrs: Record<string, string>;
  onStatus: (status: StatusResponse) => void;
  signal?: AbortSignal;
}

/** Where a finding is: a file as the frontend names it (the `filename` attr) and 1-based lines. */
export interface FindingLocation {
  file: string;
  startLine: number;
  endLine: number;
}

export interface LintFinding {
  rule: string;
  description: string;
  detail: string;
  url: string;
  location?: FindingLocation;
}

export interface LintResult {
  call: "lint";
  findings: LintFinding[];
  /** Set when the Dockerfile does not parse, or when it asks checks to fail (`# check=error=true`). */
  buildError?: { message: string; location?: FindingLocation };
  /** The frontend's verdict: 0 without findings or error, else 1 (buildx exits with it). */
  statusCode: number;
  /** The frontend's own text rendering, as buildctl prints it. */
  text: string;
}

export interface DescribeResult {
  call: "outline" | "targets";
  /** The frontend's JSON answer, parsed. */
  json: unknown;
  /** The frontend's own text rendering, as buildctl prints it. */
  text: string;
}

export type FrontendCallResult = LintResult | DescribeResult;

/** How long Return may take: the daemon answers it at once. */
const RETURN_TIMEOUT_MS = 30_000;

export async function callFrontend(
  client: BuildkitClient,
  options: FrontendCallOptions,
): Promise<FrontendCallResult> {
  const ref = newIdentifier();
  // One controller for the two halves: when either fails for good, the other is cancelled.
  const controller = new AbortController();
  const cancel = () => controller.abort();
  options.signal?.addEventListener("abort", cancel, { once: true });
  if (options.signal?.aborted) cancel();
  const metadata = new Metadata();
  metadata.set("buildkit-controlapi-buildid", ref);

  const build = solve(client, {
    ref,
    sessionId: options.sessionId,
    frontend: "",
    frontendAttrs: options.frontendAttrs,
    exporters: [],
    onStatus: options.onStatus,
    signal: controller.signal,
  });
  // Control.Solve ending before the bridge call means the build failed or was cancelled: stop
  // asking, and report the build's own error rather than our cancellation of the bridge call.
  let bridgeDone = false;
  let buildEndedFirst = false;
  const buildOutcome = build.then(
    () => ({ error: undefined }),
    (error: unknown) => ({ error: error as Error }),
  );
  void buildOutcome.then(() => {
    if (!bridgeDone) buildEndedFirst = true;
    cancel();
  });

  try {
    let response: SolveResponse | undefined;
    let bridgeError: unknown;
    try {
      response = await callUnary(
        client.connection,
        LLBBridge.method.solve,
        {
          frontend: options.frontend,
          frontendOpt: { ...options.frontendAttrs, requestid: `frontend.${options.call}` },
          allowResultReturn: true,
          allowResultArrayRef: true,
        },
        { timeoutMs: "none", signal: controller.signal, metadata },
      );
    } catch (error) {
      bridgeError = error;
    }
    bridgeDone = true;
    if (!buildEndedFirst && !controller.signal.aborted) {
      const returned = await sendReturn(client, bridgeError, metadata, controller.signal);
      if (!returned) cancel();
    }
    const { error: buildError } = await buildOutcome;
    if (options.signal?.aborted) throw new CancelledError(`The ${options.call} call was cancelled.`);
    if (buildEndedFirst && buildError !== undefined) throw buildError;
    if (bridgeError !== undefined) throw client.translate(bridgeError, options.signal);
    if (buildError !== undefined) throw buildError;
    const filename = options.frontendAttrs.filename ?? "Dockerfile";
    return parseAnswer(options.call, response?.result?.metadata ?? {}, filename);
  } finally {
    cancel();
    options.signal?.removeEventListener("abort", cancel);
    await buildOutcome;
  }
}

/** Ends the daemon's wait: the (empty) result, or the error the bridge call had. False if it failed. */
async function sendReturn(
  client: BuildkitClient,
  bridgeError: unknown,
  metadata: Metadata,
  signal: AbortSignal,
): Promise<boolean> {
  const request =
    bridgeError === undefined
      ? { result: {} }
      : {
          error: {
            code: isServiceError(bridgeError) ? bridgeError.code : Status.UNKNOWN,
            message: isServiceError(bridgeError)
              ? bridgeError.details
              : String((bridgeError as Error)?.message),
          },
        };
  try {
    await callUnary(client.connection, LLBBridge.method.return, request, {
      timeoutMs: RETURN_TIMEOUT_MS,
      signal,
      metadata,
    });
    return true;
  } catch {
    return false;
  }
}

function metaText(metadata: Record<string, Uint8Array>, key: string): string {
  const value = metadata[key];
  return value === undefined ? "" : Buffer.from(value).toString("utf8");
}

function parseAnswer(
  call: FrontendCall,
  metadata: Record<string, Uint8Array>,
  filename: string,
): FrontendCallResult {
  const text = metaText(metadata, "result.txt");
  const jsonText = metaText(metadata, "result.json");
  let json: unknown = undefined;
  if (jsonText !== "") {
    try {
      json = JSON.parse(jsonText);
    } catch {
      throw new BuildkitError(`The frontend's ${call} answer is not valid JSON.`);
    }
  }
  if (call !== "lint") return { call, json, text };
  const statusText = metaText(metadata, "result.statuscode").trim();
  return { ...parseLint(json, filename), statusCode: statusText === "" ? 0 : Number(statusText), text };
}

/** Go's encoding/json of the lint subrequest's LintResults (frontend/subrequests/lint at v0.32.2). */
interface LintJson {
  warnings?: Array<{
    ruleName?: string;
    description?: string;
    url?: string;
    detail?: string;
    location?: LocationJson;
  }> | null;
  sources?: Array<{ filename?: string }> | null;
  buildError?: { message?: string; location?: LocationJson };
}

/** A pb.Location: zero values are left out, so a missing sourceIndex is 0 and a missing line 0. */
interface LocationJson {
  sourceIndex?: number;
  ranges?: Array<{ start?: { line?: number }; end?: { line?: number } }> | null;
}

/** `filename` names the file when the answer lists no sources (a Dockerfile that does not parse). */
function parseLint(json: unknown, filename: string): Omit<LintResult, "statusCode" | "text"> {
  const lint = (json ?? {}) as LintJson;
  const files = (lint.sources ?? []).map((source) => source.filename ?? filename);
  if (files.length === 0) files.push(filename);
  const locate = (location: LocationJson | undefined): FindingLocation | undefined => {
    const index = location?.sourceIndex ?? 0;
    const range = location?.ranges?.[0];
    const file = files[index];
    if (index < 0 || file === undefined || range === undefined) return undefined;
    const startLine = range.start?.line ?? 0;
    return { file, startLine, endLine: range.end?.line ?? startLine };
  };
  const findings = (lint.warnings ?? []).map((warning) => ({
    rule: warning.ruleName ?? "",
    description: warning.description ?? "",
    detail: warning.detail ?? "",
    url: warning.url ?? "",
    location: locate(warning.location),
  }));
  const buildError = lint.buildError && {
    message: lint.buildError.message ?? "",
    location: locate(lint.buildError.location),
  };
  return { call: "lint", findings, ...(buildError ? { buildError } : {}) };
}
