// The BuildKit client: one HTTP/2 connection to one runner, and the Control calls we make on it.
import type { DescMessage, DescMethodUnary, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { Endpoint } from "./endpoint.js";
import { CancelledError, ConnectionError, ConnectionLostError, RpcError, RunnerGoneError } from "./errors.js";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  type BuildHistoryEvent,
  BuildHistoryEventType,
  Control,
} from "./proto/moby/buildkit/v1/control_pb.js";
import type { WorkerRecord } from "./proto/moby/buildkit/v1/types/worker_pb.js";
import { callServerStream, callUnary, FLOW_CONTROL_WINDOW_BYTES, isServiceError } from "./rpc.js";
import { sourceLocations } from "./error-details.js";
import { hasTls, type TlsMaterial } from "./tls.js";
import { formatPlatform } from "./platform.js";
import { describeRpcFailure, type FailureContext } from "./rpc-errors.js";
import { SshDialer, type SshOptions } from "./ssh-dialer.js";
import { noteClientSockets } from "./reset-sockets.js";
import { GrpcConnection, type ConnectionTarget } from "./grpc/connection.js";
import { Status } from "./grpc/status.js";

export interface ClientOptions {
  endpoint: Endpoint;
  tls: TlsMaterial;
  /** Bound on reaching the runner and on each health-check call. */
  connectTimeoutMs: number;
  /** For ssh:// endpoints: key, known hosts, config (TLS does not apply to them). */
  ssh?: SshOptions;
}

export interface RunnerVersion {
  package: string;
  version: string;
  revision: string;
  dockerfileVersion: string;
}

export interface WorkerInfo {
  id: string;
  platforms: string[];
  labels: Record<string, string>;
}

export interface RunnerInfo {
  endpoint: string;
  /** Undefined when the daemon predates the Info call (BuildKit older than v0.11). */
  version: RunnerVersion | undefined;
  workers: WorkerInfo[];
  /** Every platform some worker supports, in the daemon's order, without repeats. */
  platforms: string[];
}

/** One build the runner is working on now, as its build history lists it. */
export interface BuildInFlight {
  ref: string;
  frontend: string;
  /** When the build started; undefined when the runner did not say. */
  createdAt: Date | undefined;
}

export class BuildkitClient {
  readonly endpoint: Endpoint;
  /** The connection every call of this client goes on (the session's tunnel too). */
  readonly connection: GrpcConnection;
  readonly usingTls: boolean;
  private readonly connectTimeoutMs: number;
  /** For an ssh:// endpoint: the local socket that we dial, each connection an ssh. */
  private readonly dialer: SshDialer | undefined;
  /** The quickest unary call of the last probe, in ms: the link's round trip plus a little. */
  roundTripMs: number | undefined;

  constructor(options: ClientOptions) {
    // Before any connection: a reset Node leaves unreported is found among them (liveness.ts).
    noteClientSockets();
    this.endpoint = options.endpoint;
    this.connectTimeoutMs = options.connectTimeoutMs;
    this.usingTls = usesTls(options);
    this.dialer =
      options.endpoint.kind === "ssh"
        ? new SshDialer(options.endpoint, options.ssh ?? {}, options.connectTimeoutMs)
        : undefined;
    this.connection = new GrpcConnection({
      target: this.dialer ? { kind: "unix", path: this.dialer.socketPath } : connectionTarget(options),
      connectTimeoutMs: options.connectTimeoutMs,
      windowBytes: FLOW_CONTROL_WINDOW_BYTES,
    });
  }

  /** The runner's version, or undefined when it is older than v0.11 and has no Info call. */
  async version(signal?: AbortSignal): Promise<RunnerVersion | undefined> {
    try {
      const response = await this.unary(Control.method.info, {}, signal);
      const v = response.buildkitVersion;
      return {
        package: v?.package ?? "",
        version: v?.version ?? "",
        revision: v?.revision ?? "",
        dockerfileVersion: v?.dockerfileVersion ?? "",
      };
    } catch (error) {
      if (error instanceof RpcError && error.code === Status.UNIMPLEMENTED) return undefined;
      throw error;
    }
  }

  async workers(signal?: AbortSignal): Promise<WorkerInfo[]> {
    const response = await this.unary(Control.method.listWorkers, {}, signal);
    return response.record.map(toWorkerInfo);
  }

  /**
   * The builds in flight: ListenBuildHistory with active_only and early_exit lists the active
   * builds and ends. Undefined when the runner predates build history (older than v0.11).
   */
  async buildsInFlight(signal?: AbortSignal): Promise<BuildInFlight[] | undefined> {
    const timeout = AbortSignal.timeout(this.connectTimeoutMs);
    const bounded = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const stream = callServerStream(
      this.connection,
      Control.method.listenBuildHistory,
      { activeOnly: true, earlyExit: true },
      { signal: bounded },
    );
    const builds: BuildInFlight[] = [];
    try {
      for await (const event of stream) {
        const { type, record } = event as BuildHistoryEvent;
        if (type !== BuildHistoryEventType.STARTED || !record) continue;
        builds.push({
          ref: record.ref,
          frontend: record.frontend,
          createdAt: record.createdAt ? timestampDate(record.createdAt) : undefined,
        });
      }
      return builds;
    } catch (error) {
      if (isServiceError(error) && error.code === Status.UNIMPLEMENTED) return undefined;
      if (timeout.aborted && !signal?.aborted) {
        throw new ConnectionError(
          `The runner at ${this.endpoint.address} did not list its builds in flight within ${this.connectTimeoutMs / 1000} s.`,
          this.endpoint.address,
        );
      }
      throw this.translate(error, signal);
    } finally {
      stream.cancel();
    }
  }

  /** The bytes of the runner's build cache (DiskUsage: every record's size, summed). */
  async cacheBytes(signal?: AbortSignal): Promise<number> {
    const response = await this.unary(Control.method.diskUsage, {}, signal);
    return response.record.reduce((sum, record) => sum + Number(record.size), 0);
  }

  /**
   * Health check: Info and ListWorkers. The connection's own dial bounds the TLS handshake and says
   * what failed. ListWorkers goes out as soon as the connection is up, alongside Info rather than
   * after it: one round trip less, and its time, connecting left out, is the link's round trip.
   */
  async probe(signal?: AbortSignal): Promise<RunnerInfo> {
    const infoFailed = new AbortController();
    const timedWorkers = async () => {
      const started = performance.now();
      const workers = await this.workers(signal);
      return { workers, ms: performance.now() - started };
    };
    const early = whenConnected(this.connection, infoFailed.signal).then((ready) =>
      ready ? timedWorkers() : undefined,
    );
    // Info's failure is the one reported; ListWorkers' is then nobody's to see.
    early.catch(() => undefined);
    const started = performance.now();
    let version: RunnerVersion | undefined;
    try {
      version = await this.version(signal);
    } catch (error) {
      infoFailed.abort();
      throw error;
    }
    const versionMs = performance.now() - started;
    const { workers, ms } = (await early) ?? (await timedWorkers());
    this.roundTripMs = Math.min(versionMs, ms);
    const platforms = [...new Set(workers.flatMap((worker) => worker.platforms))];
    return { endpoint: this.endpoint.address, version, workers, platforms };
  }

  /** Closes the connection; for an ssh:// endpoint also ends every ssh and removes its socket. */
  close(): void {
    this.connection.close();
    this.dialer?.close();
  }

  private async unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    request: MessageInitShape<I>,
    signal: AbortSignal | undefined,
  ): Promise<MessageShape<O>> {
    try {
      return await callUnary(this.connection, method, request, {
        timeoutMs: this.connectTimeoutMs,
        signal,
      });
    } catch (error) {
      throw this.translate(error, signal);
    }
  }

  private failureContext(): FailureContext {
    return { endpoint: this.endpoint.address, timeoutMs: this.connectTimeoutMs, usingTls: this.usingTls };
  }

  /** Turns a gRPC failure into a typed error with a sentence that names the runner. */
  translate(error: unknown, signal?: AbortSignal): Error {
    if (signal?.aborted) return new CancelledError(`The call to ${this.endpoint.address} was cancelled.`);
    if (!isServiceError(error)) return error as Error;
    const failure = describeRpcFailure(error, this.failureContext());
    // Over ssh, what went wrong is in ssh's stderr; gRPC only saw the socket close.
    const sshFailure = failure.connection ? this.dialer?.failure() : undefined;
    if (sshFailure !== undefined) return new ConnectionError(sshFailure, this.endpoint.address);
    return failure.connection
      ? new ConnectionError(failure.message, this.endpoint.address)
      : new RpcError(failure.message, error.code, error.details, sourceLocations(error.metadata));
  }

  /**
   * A failure of the call that runs a build (Solve): the runner unreachable there went away after
   * it answered the health check, so the build may run again elsewhere (RunnerGoneError).
   */
  translateBuildFailure(error: unknown, signal?: AbortSignal): Error {
    const translated = this.translate(error, signal);
    // UNAVAILABLE is the word for a transport that closed or reset under the call.
    const lost = isServiceError(error) && error.code === Status.UNAVAILABLE;
    if (!lost || !(translated instanceof ConnectionError) || translated instanceof RunnerGoneError) {
      return translated;
    }
    return this.lostMidBuild(error.details ?? error.message);
  }

  /**
   * The connection lost under a build, in one sentence: over ssh, what ssh said (it knows why, a
   * server that stopped answering, say); else what the transport said.
   */
  lostMidBuild(detail: string): ConnectionLostError {
    const sshFailure = this.dialer?.failure();
    return new ConnectionLostError(
      sshFailure ??
        `The connection to the runner at ${this.endpoint.address} was lost mid-build (${detail.replace(/\.$/, "")}).`,
      this.endpoint.address,
    );
  }
}

/**
 * True once the connection is up; false if `stop` aborts first. The calls waiting on the
 * connection bound the wait: their failure aborts `stop`.
 */
function whenConnected(connection: GrpcConnection, stop: AbortSignal): Promise<boolean> {
  if (connection.connected) return Promise.resolve(true);
  return new Promise((resolve) => {
    stop.addEventListener("abort", () => resolve(false), { once: true });
    connection.session().then(
      () => resolve(!stop.aborted),
      () => resolve(false),
    );
  });
}

function toWorkerInfo(record: WorkerRecord): WorkerInfo {
  return {
    id: record.id,
    platforms: record.platforms.map(formatPlatform),
    labels: { ...record.labels },
  };
}

/** buildkitd serves unix sockets without TLS, whatever it was given. */
function usesTls(options: ClientOptions): boolean {
  return options.endpoint.kind === "tcp" && hasTls(options.tls);
}

/** Where the connection dials: TCP with the TLS material when there is some, or the socket. */
function connectionTarget(options: ClientOptions): ConnectionTarget {
  const { endpoint } = options;
  if (endpoint.kind === "unix") return { kind: "unix", path: endpoint.path };
  if (endpoint.kind === "ssh") throw new Error(`${endpoint.address} is dialled through an SshDialer.`);
  return {
    kind: "tcp",
    host: endpoint.host,
    port: endpoint.port,
    tls: usesTls(options) ? options.tls : undefined,
  };
}
