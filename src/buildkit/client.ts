// The BuildKit client: one gRPC channel to one runner, and the Control calls we make on it.
import * as grpc from "@grpc/grpc-js";
import type { DescMessage, DescMethodUnary, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { grpcTarget, type Endpoint } from "./endpoint.js";
import { CancelledError, ConnectionError, ConnectionLostError, RpcError, RunnerGoneError } from "./errors.js";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  type BuildHistoryEvent,
  BuildHistoryEventType,
  Control,
} from "./proto/moby/buildkit/v1/control_pb.js";
import type { WorkerRecord } from "./proto/moby/buildkit/v1/types/worker_pb.js";
import { CHANNEL_OPTIONS, callServerStream, callUnary, isServiceError } from "./rpc.js";
import { sourceLocations } from "./error-details.js";
import { hasTls, type TlsMaterial } from "./tls.js";
import { formatPlatform } from "./platform.js";
import { describeConnectFailure, describeRpcFailure, type FailureContext } from "./rpc-errors.js";
import { boundHandshakes, checkTlsHandshake } from "./handshake.js";
import { SshDialer, type SshOptions } from "./ssh-dialer.js";
import { gzipChannel } from "./gzip-channel.js";
import { noteClientSockets } from "./reset-sockets.js";

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
  readonly channel: grpc.Client;
  readonly usingTls: boolean;
  private readonly tls: TlsMaterial;
  private readonly connectTimeoutMs: number;
  /** For an ssh:// endpoint: the local socket that grpc-js dials, each connection an ssh. */
  private readonly dialer: SshDialer | undefined;
  private readonly target: string;
  private readonly options: ClientOptions;
  /** One object for every channel: grpc-js shares a connection only between equal credentials. */
  private readonly credentials: grpc.ChannelCredentials;
  /** Whether grpc-js's own TLS handshakes are bounded, so that the check may run alongside. */
  private readonly handshakesBounded: boolean;
  /** A second channel whose calls send gzip-compressed messages, for a compressed session. */
  private gzipChannel: grpc.Client | undefined;
  /** The quickest unary call of the last probe, in ms: the link's round trip plus a little. */
  roundTripMs: number | undefined;

  constructor(options: ClientOptions) {
    // Before any connection: a reset Node leaves unreported is found among them (liveness.ts).
    noteClientSockets();
    this.endpoint = options.endpoint;
    this.connectTimeoutMs = options.connectTimeoutMs;
    this.usingTls = usesTls(options);
    this.tls = options.tls;
    this.dialer =
      options.endpoint.kind === "ssh"
        ? new SshDialer(options.endpoint, options.ssh ?? {}, options.connectTimeoutMs)
        : undefined;
    this.options = options;
    this.target = this.dialer ? `unix://${this.dialer.socketPath}` : grpcTarget(options.endpoint);
    this.credentials = channelCredentials(options);
    this.handshakesBounded = boundHandshakes(this.credentials, options.connectTimeoutMs);
    this.channel = new grpc.Client(this.target, this.credentials, channelOptions(options));
  }

  /**
   * The channel for a session: this one, or with `compress` a second one on the same connection
   * that gzips every message it sends (gzip-channel.ts). The runner answers a compressed call in
   * gzip too.
   */
  sessionChannel(compress: boolean): grpc.Client {
    if (!compress) return this.channel;
    this.gzipChannel ??= gzipChannel(this.target, this.credentials, channelOptions(this.options));
    return this.gzipChannel;
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
      if (error instanceof RpcError && error.code === grpc.status.UNIMPLEMENTED) return undefined;
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
      this.channel,
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
      if (isServiceError(error) && error.code === grpc.status.UNIMPLEMENTED) return undefined;
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
   * Health check: our own TLS handshake check (handshake.ts) alongside Info and ListWorkers, whose
   * connection then needs no round trips of its own first. ListWorkers goes out as soon as the
   * channel is connected, alongside Info rather than after it: one round trip less again, and
   * its time, connecting left out, is the link's round trip.
   */
  async probe(signal?: AbortSignal): Promise<RunnerInfo> {
    if (!this.handshakesBounded) {
      await this.checkHandshake(signal);
      return this.infoAndWorkers(signal);
    }
    const handshakeFailed = new AbortController();
    const handshake = this.checkHandshake(signal).catch((error: unknown) => {
      handshakeFailed.abort();
      throw error;
    });
    handshake.catch(() => undefined);
    const calls = signal ? AbortSignal.any([signal, handshakeFailed.signal]) : handshakeFailed.signal;
    let info: RunnerInfo;
    try {
      info = await this.infoAndWorkers(calls);
    } catch (error) {
      // A failed handshake check says more than the calls' failure (or their cancellation).
      await handshake;
      throw error;
    }
    await handshake;
    return info;
  }

  private async infoAndWorkers(signal: AbortSignal | undefined): Promise<RunnerInfo> {
    const infoFailed = new AbortController();
    const timedWorkers = async () => {
      const started = performance.now();
      const workers = await this.workers(signal);
      return { workers, ms: performance.now() - started };
    };
    const early = whenConnected(this.channel, infoFailed.signal).then((ready) =>
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

  /** Bounds the TLS handshake, which grpc-js does not (see handshake.ts). */
  private async checkHandshake(signal: AbortSignal | undefined): Promise<void> {
    if (this.endpoint.kind !== "tcp" || !this.usingTls) return;
    const result = await checkTlsHandshake(this.endpoint, this.tls, this.connectTimeoutMs, signal);
    if (result.ok) return;
    if (signal?.aborted) throw new CancelledError(`The call to ${this.endpoint.address} was cancelled.`);
    const failure = describeConnectFailure(result, this.failureContext());
    throw new ConnectionError(failure, this.endpoint.address);
  }

  /** Closes the channel; for an ssh:// endpoint also ends every ssh and removes its socket. */
  close(): void {
    this.channel.close();
    this.gzipChannel?.close();
    this.dialer?.close();
  }

  private async unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    request: MessageInitShape<I>,
    signal: AbortSignal | undefined,
  ): Promise<MessageShape<O>> {
    try {
      return await callUnary(this.channel, method, request, {
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
    // UNAVAILABLE is grpc-js's own word for a transport that closed or reset under the call.
    const lost = isServiceError(error) && error.code === grpc.status.UNAVAILABLE;
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

/** True once the channel is connected; false if it shuts down or `stop` aborts first. */
function whenConnected(client: grpc.Client, stop: AbortSignal): Promise<boolean> {
  const channel = client.getChannel();
  return new Promise((resolve) => {
    stop.addEventListener("abort", () => resolve(false), { once: true });
    const check = () => {
      if (stop.aborted) return resolve(false);
      const state = channel.getConnectivityState(true);
      if (state === grpc.connectivityState.READY) return resolve(true);
      if (state === grpc.connectivityState.SHUTDOWN) return resolve(false);
      // No deadline (no timer): the calls' own deadlines bound the probe, and closing the
      // channel ends the watch.
      channel.watchConnectivityState(state, Infinity, check);
    };
    check();
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

function channelCredentials(options: ClientOptions): grpc.ChannelCredentials {
  if (!usesTls(options)) return grpc.credentials.createInsecure();
  const { ca, key, cert } = options.tls;
  return grpc.credentials.createSsl(ca ?? null, key ?? null, cert ?? null);
}

function channelOptions(options: ClientOptions): grpc.ChannelOptions {
  const serverName = options.tls.serverName;
  const extra: grpc.ChannelOptions = {
    "grpc.initial_reconnect_backoff_ms": 200,
  };
  if (serverName && options.endpoint.kind === "tcp") {
    extra["grpc.ssl_target_name_override"] = serverName;
    extra["grpc.default_authority"] = serverName;
  }
  return { ...CHANNEL_OPTIONS, ...extra };
}

/**
 * grpc-js sets the TLS server name to the host it dials, so dialling tcp://127.0.0.1 makes Node
 * print a DEP0123 deprecation warning into the user's log. Called at start; once is enough.
 */
let silenced = false;

export function silenceIpServerNameWarning(): void {
  if (silenced) return;
  silenced = true;
  const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: unknown, ...rest: unknown[]) => {
    const code = typeof rest[0] === "object" ? (rest[0] as { code?: string })?.code : rest[1];
    if (code === "DEP0123") return;
    emitWarning(warning, ...rest);
  }) as typeof process.emitWarning;
}
