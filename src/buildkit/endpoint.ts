// Runner endpoints: tcp://HOST:PORT, unix:///PATH and ssh://[USER@]HOST[:PORT][/SOCKET], as
// buildctl's --addr takes them.
import { isIP } from "node:net";
import { EndpointError } from "./errors.js";

/** buildctl's default address on Linux. */
export const DEFAULT_ENDPOINT = "unix:///run/buildkit/buildkitd.sock";

export type Endpoint =
  | { kind: "tcp"; address: string; host: string; port: number }
  | { kind: "unix"; address: string; path: string }
  | SshEndpoint;

/** Reached through the system's ssh, running `buildctl dial-stdio` on the far side (ssh-dialer.ts). */
export interface SshEndpoint {
  kind: "ssh";
  address: string;
  host: string;
  /** Absent: ssh's own default (its config, else the current user). */
  user?: string;
  port?: number;
  /** The runner's socket on the far side; absent: buildctl's default there. */
  socketPath?: string;
}

const SUPPORTED = "use tcp://HOST:PORT, unix:///PATH or ssh://[USER@]HOST[:PORT][/SOCKET]";

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
  if (scheme === "ssh") return parseSsh(address, rest);
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

/** As BuildKit's ssh connection helper reads it: no password, query or fragment. */
function parseSsh(address: string, rest: string): SshEndpoint {
  const form = "ssh://[USER@]HOST[:PORT][/SOCKET]";
  if (/[?#]/.test(rest)) {
    throw new EndpointError(`Endpoint "${redactUserinfo(address)}" has a query or fragment; use ${form}.`);
  }
  const slash = rest.indexOf("/");
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const socketPath = slash === -1 || slash === rest.length - 1 ? undefined : rest.slice(slash);
  const at = authority.lastIndexOf("@");
  const userinfo = at === -1 ? undefined : authority.slice(0, at);
  if (userinfo?.includes(":")) {
    throw new EndpointError(
      `Endpoint "${redactUserinfo(address)}" has a password; ssh endpoints take a key (or the agent), never a password in the URL.`,
    );
  }
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:/[\]@]+)(?::(\d+))?$/.exec(authority.slice(at + 1));
  if (!match || userinfo === "") throw new EndpointError(`Endpoint "${address}" is not of the form ${form}.`);
  const port = match[2] === undefined ? undefined : Number(match[2]);
  if (port !== undefined && (port < 1 || port > 65535)) {
    throw new EndpointError(`Endpoint "${address}" has port ${match[2]}, outside 1 to 65535.`);
  }
  return {
    kind: "ssh",
    address,
    host: match[1]!.replace(/^\[|\]$/g, ""),
    ...(userinfo !== undefined ? { user: decodeURIComponent(userinfo) } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(socketPath !== undefined ? { socketPath } : {}),
  };
}

/** An address for a message, with anything between :// and @ replaced: it may be a password. */
function redactUserinfo(address: string): string {
  return address.replace(/^(ssh:\/\/)[^@/]*@/i, "$1***@");
}

/** True for 127.0.0.0/8, ::1 and localhost: traffic that never leaves the machine. */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase();
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (isIP(name) === 4) return name.startsWith("127.");
  return name === "::1" || name === "0:0:0:0:0:0:0:1";
}
