// One HTTP/2 connection to a runner, for gRPC calls: dialled on the first call (TCP, with TLS when
// given, or a Unix socket), within a bound, and dialled again by the first call after it was lost.
// Node's own HTTP/2 client, without grpc-js's channel (resolver, load balancer, subchannels): a
// runner is one address, and what to do when it fails is the runner resolver's decision.
import * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";

export type ConnectionTarget =
  | {
      kind: "tcp";
      host: string;
      port: number;
      /** TLS material; without it the connection is plain TCP. */
      tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; serverName?: string };
    }
  | { kind: "unix"; path: string };

export interface ConnectionOptions {
  target: ConnectionTarget;
  /** Bound on reaching the runner: TCP (or the socket), and the TLS handshake. */
  connectTimeoutMs: number;
  /** HTTP/2 receive window, per stream and for the connection. */
  windowBytes: number;
}

/** Reaching the runner failed: `detail` is the socket's or TLS's own message. */
export class DialError extends Error {
  constructor(
    readonly detail: string,
    readonly timedOut: boolean,
  ) {
    super(detail);
    this.name = "DialError";
  }
}

/**
 * What grpc-go accepts in a request's headers (its default MaxHeaderListSize), and so we, both
 * ways: the daemon sends a directory's .dockerignore patterns to our FileSync as headers.
 */
export const MAX_HEADER_LIST_BYTES = 16 * 1024 * 1024;

export class GrpcConnection {
  private dialling: Promise<http2.ClientHttp2Session> | undefined;
  /** The connection that is up, if any. */
  private live: http2.ClientHttp2Session | undefined;
  /** The socket being dialled, for close() to end. */
  private dialSocket: net.Socket | undefined;
  private closed = false;
  private activeCalls = 0;
  private readonly lostListeners = new Set<(failure: string | undefined) => void>();
  /** Why each connection failed: the socket's or HTTP/2's first error message. */
  private readonly failures = new WeakMap<http2.ClientHttp2Session, string>();

  constructor(private readonly options: ConnectionOptions) {}

  /** The `:authority` of every call: the TLS server name when one is given, as grpc-go does. */
  get authority(): string {
    const { target } = this.options;
    if (target.kind === "unix") return "localhost";
    const host = target.host.includes(":") ? `[${target.host}]` : target.host;
    return target.tls?.serverName ?? `${host}:${target.port}`;
  }

  /** True while a connection is up (the runner reached, its handshake done). */
  get connected(): boolean {
    return this.live !== undefined;
  }

  /** The session for a new call: the live one, or a new one once the runner is reached. */
  session(): Promise<http2.ClientHttp2Session> {
    if (this.closed) return Promise.reject(new DialError("the client was closed", false));
    if (this.live) return Promise.resolve(this.live);
    this.dialling ??= this.dial().finally(() => (this.dialling = undefined));
    return this.dialling;
  }

  /**
   * Calls `listener` when a connection that was up closes, unless closed by us: the calls on it
   * are lost, whatever they say. `failure` is the socket's or HTTP/2's error, when there was one.
   * Returns the function that stops listening.
   */
  onLost(listener: (failure: string | undefined) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** Why `session` closed, when it failed (the socket's or HTTP/2's error message). */
  lastFailure(session: http2.ClientHttp2Session): string | undefined {
    return this.failures.get(session);
  }

  /** A call started: the connection holds the process open while any call is in flight. */
  callStarted(): void {
    if (this.activeCalls++ === 0) this.live?.ref();
  }

  callEnded(): void {
    if (--this.activeCalls === 0) this.live?.unref();
  }

  close(): void {
    this.closed = true;
    this.dialSocket?.destroy();
    this.live?.destroy();
    this.live = undefined;
  }

  private async dial(): Promise<http2.ClientHttp2Session> {
    const socket = await this.reach();
    if (this.closed) {
      socket.destroy();
      throw new DialError("the client was closed", false);
    }
    const secure = socket instanceof tls.TLSSocket;
    const session = http2.connect(`${secure ? "https" : "http"}://${this.authority}`, {
      createConnection: () => socket,
      settings: {
        initialWindowSize: this.options.windowBytes,
        maxHeaderListSize: MAX_HEADER_LIST_BYTES,
        enablePush: false,
      },
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
      maxHeaderListPairs: Number.MAX_SAFE_INTEGER,
    });
    session.on("connect", () => session.setLocalWindowSize(this.options.windowBytes));
    session.on("error", (error: Error) => {
      if (!this.failures.has(session)) this.failures.set(session, error.message);
    });
    // The runner going away: new calls dial again, the calls on this connection end on their own.
    session.on("goaway", () => {
      if (this.live === session) this.live = undefined;
    });
    session.on("close", () => {
      if (this.live === session) this.live = undefined;
      if (this.closed) return;
      const failure = this.failures.get(session);
      for (const listener of [...this.lostListeners]) listener(failure);
    });
    if (this.activeCalls === 0) session.unref();
    this.live = session;
    return session;
  }

  /** A connected socket to the runner (TLS done), or a DialError within connectTimeoutMs. */
  private reach(): Promise<net.Socket> {
    const { target, connectTimeoutMs } = this.options;
    return new Promise((resolve, reject) => {
      let socket: net.Socket;
      /** The TCP socket under a TLS one: its failures before TLS takes it over are the dial's. */
      let tcp: net.Socket | undefined;
      let connectEvent: string;
      if (target.kind === "unix") {
        socket = net.connect({ path: target.path });
        connectEvent = "connect";
      } else if (target.tls) {
        // TCP first, then TLS on it, as grpc-js did: net.connect announces the socket to the watch
        // for resets Node leaves unreported (reset-sockets.ts); tls.connect's own socket it does not.
        tcp = net.connect({ host: target.host, port: target.port });
        // Its later errors reach the TLS socket and the HTTP/2 session above it.
        tcp.on("error", () => undefined);
        const expectedName = target.tls.serverName ?? target.host;
        socket = tls.connect({
          socket: tcp,
          ca: target.tls.ca,
          cert: target.tls.cert,
          key: target.tls.key,
          ALPNProtocols: ["h2"],
          // SNI carries names only; an IP is checked against the certificate's IP SANs.
          servername: net.isIP(expectedName) ? undefined : expectedName,
          checkServerIdentity: (_host, certificate) => tls.checkServerIdentity(expectedName, certificate),
        });
        connectEvent = "secureConnect";
      } else {
        socket = net.connect({ host: target.host, port: target.port });
        connectEvent = "connect";
      }
      this.dialSocket = socket;
      const finish = (error?: DialError) => {
        clearTimeout(timer);
        socket.off("error", onError);
        socket.off(connectEvent, onConnect);
        socket.off("close", onClose);
        tcp?.off("error", onError);
        tcp?.off("close", onClose);
        this.dialSocket = undefined;
        if (error) {
          socket.destroy();
          tcp?.destroy();
          reject(error);
        } else resolve(socket);
      };
      const onError = (error: Error) => finish(new DialError(error.message, false));
      const onConnect = () => finish();
      const onClose = () => finish(new DialError("the connection closed", false));
      socket.once("error", onError);
      socket.once(connectEvent, onConnect);
      socket.once("close", onClose);
      tcp?.once("error", onError);
      tcp?.once("close", onClose);
      const timer = setTimeout(
        () => finish(new DialError(`no connection within ${connectTimeoutMs} ms`, true)),
        connectTimeoutMs,
      );
    });
  }
}
