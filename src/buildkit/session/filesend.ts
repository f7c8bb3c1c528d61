// FileSend: the daemon pushes build outputs to us. One method carries two formats. For the
// `local` exporter the daemon runs fsutil's sender, so the messages are fsutil Packets and we are
// the receiver: STATs in walk order, an empty STAT, our REQs by file id, its DATA, our FIN, its
// FIN. For `tar`, `oci` and `docker` the messages are BytesMessages holding the file's bytes,
// ended by the daemon's half-close. The request header buildkit-attachable-exporter-id names the
// exporter's index in the Solve request; daemons before v0.13 send no header and only one
// exporter, index 0. Multi-platform local outputs arrive as one concurrent call per platform.
//
// Safety: every received path is checked before anything is created. Paths must be clean and
// relative, every parent must be a real directory (checked with lstat, never through a symlink),
// hardlinks may only point at files received earlier in the same transfer, and files are
// created with O_EXCL | O_NOFOLLOW, so nothing outside the destination is ever written.
import { Status, type Metadata } from "../grpc/status.js";
import { FileSendError, UnsafeOutputPathError } from "../errors.js";
import { Packet_PacketType } from "../proto/fsutil/types/wire_pb.js";
import { FileSend } from "../proto/moby/filesync/v1/filesync_pb.js";
import { receiveDir } from "./filesend-dir.js";
import { receiveFile, receiveStream, type FileSendSink } from "./filesend-file.js";

export type { FileSendSink } from "./filesend-file.js";
import { encodePacket, type FileSendCall } from "./filesend-stream.js";
import { headerValues } from "./filesync.js";
import type { SessionService } from "./tunnel.js";

/** Where one exporter's output goes: a directory (local), a file (tar, oci, docker), or a sink the bytes stream into. */
export type FileSendTarget =
  | { kind: "dir"; dir: string }
  | { kind: "file"; path: string }
  | { kind: "stream"; name: string; open: (signal: AbortSignal) => FileSendSink };

export interface FileSendOptions {
  /** Cancels every transfer in progress. */
  signal?: AbortSignal;
  /** File contents requested at once per transfer; the daemon sends 4 files at a time. */
  concurrency?: number;
  /** Entries we cannot create (devices, fifos, sockets) are skipped and reported here. */
  onWarning?: (message: string) => void;
}

export interface FileSendService extends SessionService {
  /** The first transfer failure, as our typed error: the build's own error only wraps it. */
  failure(): FileSendError | undefined;
  /** Resolves once no transfer is running. */
  idle(): Promise<void>;
}

const EXPORTER_ID_HEADER = "buildkit-attachable-exporter-id";
const DEFAULT_CONCURRENCY = 16;

const identity = (bytes: Buffer) => bytes;

/** The FileSend service for a session; `targets[i]` receives the output of Solve exporter i. */
export function fileSendService(
  targets: ReadonlyArray<FileSendTarget | undefined>,
  options: FileSendOptions = {},
): FileSendService {
  let firstFailure: FileSendError | undefined;
  const running = new Set<Promise<void>>();
  // Directories created or checked by any transfer of this service: concurrent transfers into
  // one destination (platform-split=false) must never replace one of them with a symlink.
  const knownDirs = new Set<string>();

  const diffCopy = (call: FileSendCall) => {
    const index = exporterIndex(call.metadata);
    const target = targets[index];
    const controller = new AbortController();
    const abort = () => controller.abort();
    options.signal?.addEventListener("abort", abort, { once: true });
    call.on("cancelled", abort);
    const work = (async () => {
      if (target === undefined)
        throw new FileSendError(`The runner sent output ${index}, which this build did not ask for.`);
      if (target.kind === "dir") {
        await receiveDir(call, target.dir, {
          knownDirs,
          concurrency: Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY),
          onWarning: options.onWarning,
          signal: controller.signal,
        });
      } else if (target.kind === "file") {
        await receiveFile(call, target.path, controller.signal);
      } else {
        await receiveStream(call, target.open(controller.signal), controller.signal);
      }
    })().then(
      () => {
        call.end();
      },
      (error: unknown) => {
        const failure = asFileSendError(error, target);
        firstFailure ??= failure;
        if (target?.kind === "dir" && !call.cancelled) {
          // fsutil's sender reads an ERR packet as the receiver's error, as fsutil's receiver sends.
          call.write(
            encodePacket({ type: Packet_PacketType.PACKET_ERR, data: Buffer.from(failure.message) }),
          );
        }
        const code = failure instanceof UnsafeOutputPathError ? Status.PERMISSION_DENIED : Status.UNKNOWN;
        // An 'error' emitted on a server call is sent as the call's status (grpc/server.ts).
        call.emit("error", Object.assign(new Error(failure.message), { code, details: failure.message }));
      },
    );
    const tracked = work.finally(() => {
      options.signal?.removeEventListener("abort", abort);
      running.delete(tracked);
    });
    running.add(tracked);
  };

  return {
    service: FileSend,
    advertise: true,
    definition: {
      diffCopy: {
        path: `/${FileSend.typeName}/${FileSend.method.diffCopy.name}`,
        requestStream: true,
        responseStream: true,
        requestDeserialize: (bytes: Buffer) => [bytes],
        requestDeserializePieces: (pieces: Buffer[]) => pieces,
        responseSerialize: identity,
      },
    },
    implementation: { diffCopy },
    failure: () => firstFailure,
    idle: async () => {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  };
}

/** The Solve exporter index the call is for; 0 when absent, as daemons before v0.13 send it. */
export function exporterIndex(metadata: Metadata): number {
  const value = headerValues(metadata, EXPORTER_ID_HEADER)[0];
  if (value === undefined || !/^\d+$/.test(value.trim())) return 0;
  return Number(value.trim());
}

function asFileSendError(error: unknown, target: FileSendTarget | undefined): FileSendError {
  if (error instanceof FileSendError) return error;
  const where = target === undefined ? "" : ` into ${targetName(target)}`;
  const message = error instanceof Error ? error.message : String(error);
  return new FileSendError(`Receiving a build output${where} failed: ${message}`);
}

function targetName(target: FileSendTarget): string {
  if (target.kind === "dir") return target.dir;
  return target.kind === "file" ? target.path : target.name;
}
