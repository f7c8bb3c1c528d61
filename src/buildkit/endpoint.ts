// Runner endpoints: tcp://HOST:PORT and unix:///PATH, as buildctl's --addr takes them.
import { isIP } from "node:net";
import { EndpointError } from "./errors.js";

/** buildctl's default address on Linux. */
export const DEFAULT_ENDPOINT = "unix:///run/buildkit/buildkitd.sock";

export type Endpoint =
  | { kind: "tcp"; address: string; host: string; port: number }
  | { kind: "unix"; address: string; path: string };

const SUPPORTED = "use tcp://HOST:PORT or unix:///PATH";

export function parseEndpoint(text: string): Endpoint {
  const address = text.trim();
  if (address === "") throw new EndpointError(`The runner endpoint is empty; ${SUPPORTED}.`);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(address)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    throw new EndpointError(`Endpoint "${address}" has no scheme; ${SUPPORTED}.`);
  }
  const rest = address.slice(scheme.length + 3);
  if (scheme === "unix") {
    if (!rest.startsWith("/")) {
      throw new EndpointError(
        `Endpoint "${address}" needs an absolute socket path, as in unix:///run/buildkit/buildkitd.sock.`,
      );
    }
    return { kind: "unix", address, path: rest };
  }
  if (scheme === "tcp") return parseTcp(address, rest);
  throw new EndpointError(
    `Endpoint "${address}" uses the scheme ${scheme}://, which remote-buildkit does not speak; ${SUPPORTED}.`,
  );
}

function parseTcp(address: string, rest: string): Endpoint {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:/[\]]+):(\d+)\/?$/.exec(rest);
  if (!match) {
    throw new EndpointError(`Endpoint "${address}" is not of the form tcp://HOST:PORT.`);
  }
  const host = match[1]!.replace(/^\[|\]$/g, "");
  const port = Number(match[2]);
  if (port < 1 || port > 65535) {
    throw new EndpointError(`Endpoint "${address}" has port ${match[2]}, outside 1 to 65535.`);
  }
  return { kind: "tcp", address, host, port };
}

/** The target string that grpc-js dials. */
export function grpcTarget(endpoint: Endpoint): string {
  if (endpoint.kind === "unix") return `unix://${endpoint.path}`;
  const host = isIP(endpoint.host) === 6 ? `[${endpoint.host}]` : endpoint.host;
  return `${host}:${endpoint.port}`;
}

/** True for 127.0.0.0/8, ::1 and localhost: traffic that never leaves the machine. */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase();
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (isIP(name) === 4) return name.startsWith("127.");
  return name === "::1" || name === "0:0:0:0:0:0:0:1";
}
