// containerd.services.content.v1.Content for the session: the content store a `local` cache is
// imported from and exported to, in a directory on this machine (blobs/<algorithm>/<hex>, the OCI
// layout buildctl writes). The daemon names the store in each call's header
// buildkit-attachable-store-id ("local:" + the directory, BuildKit v0.32.2 session/content and
// cache/remotecache/local); only the directories given are served.
//
// Write follows containerd's content server: the first message names an ingest ref; every message
// is answered with the offset written so far; COMMIT checks the size and digest and moves the data
// to its blob; a blob that exists already is ALREADY_EXISTS, which the daemon takes as done.
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, rm, rmdir, stat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { ServerCall, UnaryCallback } from "../grpc/server.js";
import { Status, type StatusCode, type Metadata } from "../grpc/status.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  Content,
  InfoResponseSchema,
  ListStatusesResponseSchema,
  ReadContentResponseSchema,
  UpdateResponseSchema,
  WriteAction,
  WriteContentResponseSchema,
  type InfoRequest,
  type ReadContentRequest,
  type UpdateRequest,
  type WriteContentRequest,
} from "../proto/containerd/services/content/v1/content_pb.js";
import type { SessionService } from "./tunnel.js";

const STORE_ID_HEADER = "buildkit-attachable-store-id";
const READ_CHUNK_BYTES = 1024 * 1024;
const DIGEST = /^(sha256|sha512):([a-f0-9]{64}|[a-f0-9]{128})$/;

type Callback = UnaryCallback;
type Failure = { code: StatusCode; details: string };

/** The Content service for a session; `stores` maps each store id the daemon may ask for to its directory. */
export function contentStoreService(stores: Readonly<Record<string, string>>): SessionService {
  const storeDir = (metadata: Metadata): string => {
    const id = metadata.get(STORE_ID_HEADER).map(String)[0];
    if (id === undefined)
      throw failure(Status.INVALID_ARGUMENT, `request lacks metadata "${STORE_ID_HEADER}"`);
    const dir = stores[id];
    if (dir === undefined) throw failure(Status.NOT_FOUND, `unknown store ${id}`);
    return dir;
  };
  const unary =
    <T>(handle: (request: T, dir: string) => Promise<unknown>) =>
    (call: ServerCall<T, unknown>, callback: Callback) => {
      Promise.resolve()
        .then(() => handle(call.request, storeDir(call.metadata)))
        .then(
          (response) => callback(null, response),
          (error: unknown) => callback(asFailure(error)),
        );
    };

  return {
    service: Content,
    advertise: true,
    implementation: {
      info: unary(async (request: InfoRequest, dir) => {
        const blob = await blobStat(dir, request.digest);
        return create(InfoResponseSchema, { info: blob });
      }),
      update: unary(async (request: UpdateRequest, dir) => {
        const blob = await blobStat(dir, request.info?.digest ?? "");
        return create(UpdateResponseSchema, { info: { ...blob, labels: request.info?.labels ?? {} } });
      }),
      delete: unary(() =>
        Promise.reject(failure(Status.PERMISSION_DENIED, "deleting from a local cache is not allowed")),
      ),
      status: unary((request: { ref: string }) =>
        Promise.reject(failure(Status.NOT_FOUND, `no write in progress for ref ${request.ref}`)),
      ),
      listStatuses: unary(() => Promise.resolve(create(ListStatusesResponseSchema, { statuses: [] }))),
      abort: unary(async (request: { ref: string }, dir) => {
        await rm(ingestDir(dir, request.ref), { recursive: true, force: true });
        return {};
      }),
      read: (call: ServerCall<ReadContentRequest, unknown>) => {
        readBlob(call).catch((error: unknown) => call.emit("error", asFailure(error)));
      },
      write: (call: ServerCall<WriteContentRequest, unknown>) => {
        writeBlob(call, () => storeDir(call.metadata)).catch((error: unknown) => {
          if (!call.cancelled) call.emit("error", asFailure(error));
        });
      },
    },
  };

  async function readBlob(call: ServerCall<ReadContentRequest, unknown>): Promise<void> {
    const dir = storeDir(call.metadata);
    const { digest, offset, size } = call.request;
    const info = await blobStat(dir, digest);
    const start = offset < 0n ? 0n : offset;
    if (start > info.size) throw failure(Status.OUT_OF_RANGE, `read past object length ${info.size} bytes`);
    const length = size <= 0n || start + size > info.size ? info.size - start : size;
    let position = start;
    if (length > 0n) {
      const stream = createReadStream(blobPath(dir, digest), {
        start: Number(start),
        end: Number(start + length) - 1,
        highWaterMark: READ_CHUNK_BYTES,
      });
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (call.cancelled) {
          stream.destroy();
          return;
        }
        const more = call.write(create(ReadContentResponseSchema, { offset: position, data: chunk }));
        position += BigInt(chunk.byteLength);
        if (!more) await new Promise((resolve) => call.once("drain", resolve));
      }
    }
    call.end();
  }
}

/** One ingest: the data written so far, in a file under the store's ingest directory. */
interface Ingest {
  /** The store's directory, and the ingest's own under it. */
  store: string;
  dir: string;
  file: FileHandle;
  hash: Hash;
  offset: bigint;
  total: bigint;
  expected: string;
  startedAt: Date;
  updatedAt: Date;
}

async function writeBlob(
  call: ServerCall<WriteContentRequest, unknown>,
  storeDirOf: () => string,
): Promise<void> {
  let ingest: Ingest | undefined;
  try {
    for await (const request of call as AsyncIterable<WriteContentRequest>) {
      if (ingest === undefined) {
        if (request.ref === "") throw failure(Status.INVALID_ARGUMENT, "first message must have a reference");
        const store = storeDirOf();
        const dir = ingestDir(store, request.ref);
        await rm(dir, { recursive: true, force: true });
        await mkdir(dir, { recursive: true });
        const now = new Date();
        ingest = {
          store,
          dir,
          file: await open(join(dir, "data"), "w"),
          hash: createHash("sha256"),
          offset: 0n,
          total: request.total,
          expected: request.expected,
          startedAt: now,
          updatedAt: now,
        };
      }
      const store = ingest.store;
      if (request.expected !== "") {
        ingest.expected = request.expected;
        if (await exists(blobPath(store, request.expected))) {
          throw failure(Status.ALREADY_EXISTS, `blob with expected digest ${request.expected} exists`);
        }
      }
      if (request.total > 0n) ingest.total = request.total;
      const response = create(WriteContentResponseSchema, { action: request.action, offset: ingest.offset });
      if (request.action === WriteAction.STAT) {
        response.digest = `sha256:${ingest.hash.copy().digest("hex")}`;
        response.startedAt = timestampFromDate(ingest.startedAt);
        response.updatedAt = timestampFromDate(ingest.updatedAt);
        response.total = ingest.total;
      } else {
        if (request.offset > 0n && request.offset !== ingest.offset) {
          throw failure(
            Status.OUT_OF_RANGE,
            `write @${request.offset} must occur at current offset ${ingest.offset}`,
          );
        }
        if (request.data.byteLength > 0) {
          await ingest.file.write(request.data, 0, request.data.byteLength, Number(ingest.offset));
          ingest.hash.update(request.data);
          ingest.offset += BigInt(request.data.byteLength);
          ingest.updatedAt = new Date();
          response.offset = ingest.offset;
        }
        const digest = `sha256:${ingest.hash.copy().digest("hex")}`;
        response.digest = digest;
        if (request.action === WriteAction.COMMIT) {
          await commit(ingest, store, digest);
          ingest = undefined;
          call.write(response);
          call.end();
          return;
        }
      }
      call.write(response);
    }
    call.end();
  } finally {
    if (ingest) {
      await ingest.file.close().catch(() => {});
      await rm(ingest.dir, { recursive: true, force: true });
    }
  }
}

async function commit(ingest: Ingest, store: string, digest: string): Promise<void> {
  try {
    if (ingest.total > 0n && ingest.total !== ingest.offset) {
      throw failure(
        Status.FAILED_PRECONDITION,
        `unexpected commit size ${ingest.offset}, expected ${ingest.total}`,
      );
    }
    if (ingest.expected !== "" && ingest.expected !== digest) {
      throw failure(
        Status.FAILED_PRECONDITION,
        `unexpected commit digest ${digest}, expected ${ingest.expected}`,
      );
    }
    await ingest.file.close();
    const target = blobPath(store, digest);
    await mkdir(join(target, ".."), { recursive: true });
    await rename(join(ingest.dir, "data"), target);
  } finally {
    await ingest.file.close().catch(() => {});
    await rm(ingest.dir, { recursive: true, force: true });
    // The cache dir keeps only the OCI layout; another write in progress keeps ingest/ (rmdir fails).
    await rmdir(join(store, "ingest")).catch(() => {});
  }
}

async function blobStat(dir: string, digest: string) {
  let stats;
  try {
    stats = await stat(blobPath(dir, digest));
  } catch {
    throw failure(Status.NOT_FOUND, `content digest ${digest}: not found`);
  }
  return {
    digest,
    size: BigInt(stats.size),
    createdAt: timestampFromDate(stats.birthtime),
    updatedAt: timestampFromDate(stats.mtime),
    labels: {},
  };
}

/** blobs/<algorithm>/<hex>; anything but a well-formed digest is refused, so no path leaves the store. */
function blobPath(dir: string, digest: string): string {
  const match = DIGEST.exec(digest);
  if (!match) throw failure(Status.INVALID_ARGUMENT, `invalid digest ${digest}`);
  return join(dir, "blobs", match[1]!, match[2]!);
}

/** The ingest's directory, named by the ref's hash (a ref is any text). */
function ingestDir(dir: string, ref: string): string {
  return join(dir, "ingest", createHash("sha256").update(ref).digest("hex"));
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function failure(code: StatusCode, details: string): Failure {
  return Object.assign(new Error(details), { code, details });
}

function asFailure(error: unknown): Failure {
  if (error && typeof error === "object" && "code" in error && typeof error.code === "number")
    return error as Failure;
  const message = error instanceof Error ? error.message : String(error);
  return failure(Status.UNKNOWN, message);
}
