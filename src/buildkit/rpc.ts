// A small typed layer over our gRPC calls (grpc/) for the protobuf-es service descriptors in
// ./proto. Every unary call takes a deadline and every stream an AbortSignal, so nothing can hang
// forever. Messages are encoded by encoder.ts.
import {
  fromBinary,
  create,
  type DescMessage,
  type DescMethod,
  type DescMethodBiDiStreaming,
  type DescMethodServerStreaming,
  type DescMethodUnary,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { serializer } from "./encoder.js";
import { ClientCall, type MessagePieces } from "./grpc/call.js";
import type { GrpcConnection } from "./grpc/connection.js";
import { GrpcError, type Metadata } from "./grpc/status.js";

/** BuildKit's client and server both allow 16 MiB messages. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * HTTP/2 receive window per stream and for the connection. Node's default of 64 KiB makes the
 * runner wait for a WINDOW_UPDATE after every 64 KiB of Status (build log) or session-tunnel
 * data; grpc-go grows its windows by bandwidth estimation instead, up to 16 MiB.
 */
export const FLOW_CONTROL_WINDOW_BYTES = 16 * 1024 * 1024;

export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

export function deserializer<D extends DescMessage>(schema: D): (bytes: Buffer) => MessageShape<D> {
  return (bytes) => fromBinary(schema, bytes);
}

export interface UnaryCallOptions {
  /**
   * Milliseconds until the call is abandoned with DEADLINE_EXCEEDED. Only Solve goes without
   * one: a build takes as long as it takes, and its AbortSignal bounds it instead.
   */
  timeoutMs: number | "none";
  signal?: AbortSignal;
  metadata?: Metadata;
}

export interface StreamCallOptions {
  signal?: AbortSignal;
  metadata?: Metadata;
  /** Gzip what this call sends (the session tunnel, upload-compression.ts). */
  compress?: boolean;
  /** Responses as their bytes arrive, not as messages (the session tunnel: grpc/call.ts). */
  pieces?: MessagePieces;
}

export type Call<I extends DescMessage, O extends DescMessage> = ClientCall<MessageShape<I>, MessageShape<O>>;

/** Cancels `call` when `signal` aborts; returns the function that stops listening. */
function cancelOnAbort(call: { cancel(): void }, signal: AbortSignal | undefined): () => void {
  if (!signal) return () => {};
  if (signal.aborted) {
    call.cancel();
    return () => {};
  }
  const onAbort = () => call.cancel();
  signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

function startCall<I extends DescMessage, O extends DescMessage>(
  connection: GrpcConnection,
  method: DescMethod & { input: I; output: O },
  options: StreamCallOptions & { timeoutMs?: number },
): Call<I, O> {
  const call = new ClientCall<MessageShape<I>, MessageShape<O>>(
    connection,
    methodPath(method),
    serializer(method.input),
    deserializer(method.output),
    { ...options, maxReceiveBytes: MAX_MESSAGE_BYTES },
  );
  const stopListening = cancelOnAbort(call, options.signal);
  call.once("close", stopListening);
  return call;
}

export function callUnary<I extends DescMessage, O extends DescMessage>(
  connection: GrpcConnection,
  method: DescMethodUnary<I, O>,
  request: MessageInitShape<I>,
  options: UnaryCallOptions,
): Promise<MessageShape<O>> {
  return new Promise((resolve, reject) => {
    const call = startCall(connection, method, {
      ...options,
      timeoutMs: options.timeoutMs === "none" ? undefined : options.timeoutMs,
    });
    let response: MessageShape<O> | undefined;
    call.on("data", (message: MessageShape<O>) => (response ??= message));
    call.on("error", reject);
    call.on("end", () =>
      response === undefined
        ? reject(new GrpcError(13, "the runner sent no response to a unary call"))
        : resolve(response),
    );
    call.end(create(method.input, request));
  });
}

export function callServerStream<I extends DescMessage, O extends DescMessage>(
  connection: GrpcConnection,
  method: DescMethodServerStreaming<I, O>,
  request: MessageInitShape<I>,
  options: StreamCallOptions,
): Call<I, O> {
  const call = startCall(connection, method, options);
  call.end(create(method.input, request));
  return call;
}

export function callBidiStream<I extends DescMessage, O extends DescMessage>(
  connection: GrpcConnection,
  method: DescMethodBiDiStreaming<I, O>,
  options: StreamCallOptions,
): Call<I, O> {
  return startCall(connection, method, options);
}

/** A gRPC failure with its status code (ours, or grpc-js's from a test double). */
export function isServiceError(error: unknown): error is GrpcError {
  return error instanceof Error && typeof (error as GrpcError).code === "number";
}
