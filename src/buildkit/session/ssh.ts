// moby.sshforward.v1.SSH for the session: SSH agent forwarding. For a RUN --mount=type=ssh the
// daemon first calls CheckAgent with the mount's id, then opens one ForwardAgent stream per
// connection that a process in the build makes to the mounted socket, naming the agent in the
// request header buildkit.ssh.id (absent or empty means "default"). We pipe each stream's bytes
// to a new connection to the local agent's unix socket, raw: the agent protocol is not parsed.
import { createConnection, type Socket } from "node:net";
import type { ServerCall, UnaryCallback } from "../grpc/server.js";
import { Status, type StatusCode } from "../grpc/status.js";
import { create } from "@bufbuild/protobuf";
import {
  BytesMessageSchema,
  CheckAgentResponseSchema,
  SSH,
  type BytesMessage,
  type CheckAgentRequest,
} from "../proto/moby/sshforward/v1/ssh_pb.js";
import type { SessionService } from "./tunnel.js";

export const DEFAULT_SSH_ID = "default";

/** The request header that names the agent of a ForwardAgent stream (sshforward.KeySSHID). */
const SSH_ID_HEADER = "buildkit.ssh.id";

/** A local agent socket that does not accept within this long is treated as unreachable. */
const CONNECT_TIMEOUT_MS = 10_000;

export interface SshServiceOptions {
  /** Told of a ForwardAgent stream that failed (the agent socket refused, say), for the log. */
  onError?: (id: string, error: Error) => void;
}

type ForwardCall = ServerCall<BytesMessage, BytesMessage>;

/** `agents` maps an ssh id (`default`, or the id of `--ssh id=path`) to a unix socket path. */
export function sshService(
  agents: ReadonlyMap<string, string>,
  options: SshServiceOptions = {},
): SessionService {
  return {
    service: SSH,
    // The daemon calls SSH without looking at the advertised method list.
    advertise: false,
    implementation: {
      checkAgent: (call: ServerCall<CheckAgentRequest, unknown>, callback: UnaryCallback) => {
        const id = call.request.id || DEFAULT_SSH_ID;
        if (!agents.has(id)) {
          // The daemon shows this message as the build error of a required ssh mount.
          callback({
            code: Status.NOT_FOUND,
            details: `no SSH agent "${id}" was forwarded by the client`,
          });
          return;
        }
        callback(null, create(CheckAgentResponseSchema, {}));
      },
      forwardAgent: (call: ForwardCall) => {
        const id = String(call.metadata.get(SSH_ID_HEADER)[0] ?? "") || DEFAULT_SSH_ID;
        const path = agents.get(id);
        if (path === undefined) {
          failCall(call, Status.NOT_FOUND, `no SSH agent "${id}" was forwarded by the client`);
          return;
        }
        forward(call, id, path, options);
      },
    },
  };
}

function forward(call: ForwardCall, id: string, path: string, options: SshServiceOptions): void {
  const socket: Socket = createConnection({ path });
  let finished = false;
  const fail = (error: Error) => {
    if (finished) return;
    finished = true;
    options.onError?.(id, error);
    socket.destroy();
    failCall(call, Status.UNAVAILABLE, `the SSH agent "${id}" at ${path} failed: ${error.message}`);
  };
  const connectTimer = setTimeout(
    () => fail(new Error(`it did not accept a connection within ${CONNECT_TIMEOUT_MS / 1000} s`)),
    CONNECT_TIMEOUT_MS,
  );
  socket.once("connect", () => clearTimeout(connectTimer));
  socket.on("error", (error) => {
    clearTimeout(connectTimer);
    fail(error);
  });

  // Daemon to agent, with backpressure: stop reading the stream while the socket is full.
  call.on("data", (message: BytesMessage) => {
    if (!socket.write(message.data)) {
      call.pause();
      socket.once("drain", () => call.resume());
    }
  });
  // The daemon half-closed: the build's process closed its side. Shut down our write side only;
  // the agent may still be answering.
  call.on("end", () => socket.end());
  call.on("cancelled", () => {
    finished = true;
    clearTimeout(connectTimer);
    socket.destroy();
  });
  call.on("error", () => {
    finished = true;
    socket.destroy();
  });

  // Agent to daemon, with backpressure on the HTTP/2 stream.
  socket.on("data", (chunk: Buffer) => {
    if (!call.write(create(BytesMessageSchema, { data: chunk }))) {
      socket.pause();
      call.once("drain", () => socket.resume());
    }
  });
  // The agent closed the connection: end the stream with OK.
  socket.on("end", () => {
    if (finished) return;
    finished = true;
    call.end();
  });
  socket.on("close", () => clearTimeout(connectTimer));
}

/** Ends the stream with an error status: the server sends the status of an emitted 'error'. */
function failCall(call: ForwardCall, code: StatusCode, details: string): void {
  call.emit("error", Object.assign(new Error(details), { code, details }));
}
