// TLS handshakes with a bound. grpc-js has no handshake timeout: a runner that accepts TCP but
// never answers TLS would leave its socket open (and the process alive) after the call's deadline.
// Our own check of the handshake bounds that wait, closes its socket and says precisely what
// failed; boundHandshakes bounds grpc-js's handshakes too, so that the check can run alongside.
import type * as grpc from "@grpc/grpc-js";
import { isIP, type Socket } from "node:net";
import { checkServerIdentity, connect, type PeerCertificate } from "node:tls";
import type { Endpoint } from "./endpoint.js";
import type { TlsMaterial } from "./tls.js";

export type HandshakeResult = { ok: true } | { ok: false; timedOut: boolean; detail: string };

export function checkTlsHandshake(
  endpoint: Extract<Endpoint, { kind: "tcp" }>,
  material: TlsMaterial,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<HandshakeResult> {
  const expectedName = material.serverName ?? endpoint.host;
  return new Promise((resolve) => {
    const socket = connect({
      host: endpoint.host,
      port: endpoint.port,
      ca: material.ca,
      cert: material.cert,
      key: material.key,
      ALPNProtocols: ["h2"],
      // SNI carries names only; an IP is checked against the certificate's IP SANs below.
      servername: isIP(expectedName) ? undefined : expectedName,
      checkServerIdentity: (_host: string, certificate: PeerCertificate) =>
        checkServerIdentity(expectedName, certificate),
    });
    const finish = (result: HandshakeResult) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      resolve(result);
    };
    const onAbort = () => finish({ ok: false, timedOut: false, detail: "cancelled" });
    const timer = setTimeout(() => finish({ ok: false, timedOut: true, detail: "timeout" }), timeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("secureConnect", () => finish({ ok: true }));
    socket.once("error", (error) => finish({ ok: false, timedOut: false, detail: error.message }));
  });
}

/** The part of grpc-js's channel credentials we wrap (a private method of the version we bundle). */
interface SecureConnectorSource {
  _createSecureConnector?: (...args: unknown[]) => { connect: (socket: Socket) => Promise<unknown> };
}

/**
 * Bounds grpc-js's own TLS handshakes on the connections of `credentials`: its connector waits
 * for a handshake for ever, so a runner that accepts TCP and never answers TLS would keep that
 * socket (and the process) open. The socket is destroyed after `timeoutMs`, which fails the
 * handshake. With that bound the check above can run alongside grpc-js's connection instead of
 * before it (two round trips less to a remote runner). False, and nothing changed, where grpc-js
 * has no such method (another version): then the check must come first.
 */
export function boundHandshakes(credentials: grpc.ChannelCredentials, timeoutMs: number): boolean {
  const source = credentials as unknown as SecureConnectorSource;
  const create = source._createSecureConnector;
  if (typeof create !== "function") return false;
  source._createSecureConnector = function (...args: unknown[]) {
    const connector = create.apply(this, args);
    const connect = connector.connect.bind(connector);
    connector.connect = (socket: Socket) =>
      new Promise((resolve, reject) => {
        // grpc-js's handshake never settles when its socket closes without an error, so the
        // timeout settles it, and grpc-js closes the connection and tries again later. (An error
        // would go unheard: grpc-js no longer listens for one on this socket.)
        const timer = setTimeout(() => {
          socket.destroy();
          reject(new Error(`no TLS handshake within ${timeoutMs} ms`));
        }, timeoutMs);
        timer.unref();
        connect(socket)
          .then(resolve, reject)
          .finally(() => clearTimeout(timer));
      });
    return connector;
  };
  return true;
}
