// Finding TCP connections the peer reset that Node never reported.
//
// Node's HTTP/2 stops reading its socket while one of its writes is in progress. When the peer
// resets the connection then, the write's failure can go unreported: the socket is never read or
// written again, the session stays "connected", and every call on it waits. Seen in about 1 of 40
// resets of the link mid-upload (faults.test.ts), where the build then ended 23 s later as a
// runner that "stopped answering" instead of at once as a connection lost. getpeername fails on a
// socket the peer reset, so a look at each of this process's TCP client sockets finds it, and
// destroying it lets the connection (grpc/connection.ts) see the loss at once.
import { channel } from "node:diagnostics_channel";
import type { Socket } from "node:net";

/** The TCP client sockets opened since the first watch began, while they are connected. */
const connected = new Set<Socket>();
let subscribed = false;

/**
 * net.connect publishes every client socket it creates here (tls.connect does not: our TLS
 * connections dial TCP with net.connect first, grpc/connection.ts).
 */
const CLIENT_SOCKETS = "net.client.socket";

function track({ socket }: { socket: Socket }): void {
  socket.once("connect", () => {
    if (socket.remotePort === undefined) return; // a Unix socket: no reset to miss
    connected.add(socket);
    socket.once("close", () => connected.delete(socket));
  });
}

/** How many TCP client sockets are watched now (for tests). */
export function watchedSocketCount(): number {
  return connected.size;
}

/** Starts noting TCP client sockets (once per process); call before connecting. */
export function noteClientSockets(): void {
  if (subscribed) return;
  subscribed = true;
  channel(CLIENT_SOCKETS).subscribe(track as (message: unknown) => void);
}

interface PeerNameHandle {
  getpeername?: (out: object) => number;
}

/**
 * Destroys every noted socket whose peer reset it, unnoticed; returns how many. getpeername is
 * the handle's own (net.Socket's remoteAddress keeps the first answer).
 */
export function destroyResetSockets(): number {
  let destroyed = 0;
  for (const socket of connected) {
    const handle = (socket as unknown as { _handle?: PeerNameHandle | null })._handle;
    if (socket.destroyed || !handle?.getpeername) continue;
    if (handle.getpeername({}) !== 0) {
      socket.destroy();
      destroyed++;
    }
  }
  return destroyed;
}
