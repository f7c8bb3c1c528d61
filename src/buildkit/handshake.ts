// A bounded TLS handshake before grpc-js dials. grpc-js has no handshake timeout: a runner that
// accepts TCP but never answers TLS would leave its socket open (and the process alive) after the
// call's deadline. Checking the handshake ourselves bounds that wait and closes our socket.
import { isIP } from "node:net";
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
