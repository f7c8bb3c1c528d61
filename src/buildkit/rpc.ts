// A small typed layer over @grpc/grpc-js for the protobuf-es service descriptors in ./proto.
// Every unary call takes a deadline and every stream an AbortSignal, so nothing can hang forever.
// Messages are encoded by encoder.ts.
import * as grpc from "@grpc/grpc-js";
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

/** BuildKit's client and server both allow 16 MiB messages; grpc-js defaults to 4 MiB. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** grpc-go closes connections that ping more often than every 5 minutes without streams. */
export const MIN_KEEPALIVE_MS = 5 * 60 * 1000;

/**
 * HTTP/2 receive window per stream and for the connection. Node's default of 64 KiB makes the
 * runner wait for a WINDOW_UPDATE after every 64 KiB of Status (build log) or session-tunnel
 * data; grpc-go grows its windows by bandwidth estimation instead, up to 16 MiB.
 */
export const FLOW_CONTROL_WINDOW_BYTES = 16 * 1024 * 1024;

export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
  "grpc-node.flow_control_window": FLOW_CONTROL_WINDOW_BYTES,
  "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  "grpc.keepalive_time_ms": MIN_KEEPALIVE_MS,
  "grpc.keepalive_permit_without_calls": 0,
  // One attempt per call: the runner resolver decides about retries and failover.
  "grpc.enable_retries": 0,
  // Even without retries, grpc-js keeps each message of up to 1 MiB in a retry buffer and reports
  // its write done on the next tick, before the message has left. Without that buffer a write's
  // callback means the connection has taken it: the session tunnel relies on it to bound its
  // memory and to reuse its buffers.
  "grpc.retry_buffer_size": 0,
  "grpc.per_rpc_retry_buffer_size": 0,
};

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
  metadata?: grpc.Metadata;
}

export interface StreamCallOptions {
  signal?: AbortSignal;
  metadata?: grpc.Metadata;
}

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

export function callUnary<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: DescMethodUnary<I, O>,
  request: MessageInitShape<I>,
  options: UnaryCallOptions,
): Promise<MessageShape<O>> {
  return new Promise((resolve, reject) => {
    let stopListening = () => {};
    const call = client.makeUnaryRequest(
      methodPath(method),
      serializer(method.input),
      deserializer(method.output),
      create(method.input, request),
      options.metadata ?? new grpc.Metadata(),
      options.timeoutMs === "none" ? {} : { deadline: Date.now() + options.timeoutMs },
      (error, response) => {
        stopListening();
        if (error) reject(error);
        else resolve(response!);
      },
    );
    stopListening = cancelOnAbort(call, options.signal);
  });
}

export function callServerStream<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: DescMethodServerStreaming<I, O>,
  request: MessageInitShape<I>,
  options: StreamCallOptions,
): grpc.ClientReadableStream<MessageShape<O>> {
  const call = client.makeServerStreamRequest(
    methodPath(method),
    serializer(method.input),
    deserializer(method.output),
    create(method.input, request),
    options.metadata ?? new grpc.Metadata(),
  );
  const stopListening = cancelOnAbort(call, options.signal);
  call.once("close", stopListening);
  return call;
}

export function callBidiStream<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: DescMethodBiDiStreaming<I, O>,
  options: StreamCallOptions,
): grpc.ClientDuplexStream<MessageShape<I>, MessageShape<O>> {
  const call = client.makeBidiStreamRequest(
    methodPath(method),
    serializer(method.input),
    deserializer(method.output),
    options.metadata ?? new grpc.Metadata(),
  );
  const stopListening = cancelOnAbort(call, options.signal);
  call.once("close", stopListening);
  return call;
}

export function isServiceError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && typeof (error as grpc.ServiceError).code === "number";
}
