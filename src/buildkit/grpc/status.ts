// gRPC's status codes, the error a call fails with, and the metadata (headers and trailers) it
// carries: the parts of the gRPC protocol that the rest of the client library reads.

/** gRPC's status codes (grpc/doc/statuscodes.md). */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type StatusCode = (typeof Status)[keyof typeof Status];

const NAMES = new Map<number, string>(Object.entries(Status).map(([name, code]) => [code, name]));

export type MetadataValue = string | Buffer;

/** A call's headers or trailers: keys lower-case, values of `-bin` keys as bytes. */
export class Metadata {
  private readonly values = new Map<string, MetadataValue[]>();

  /**
   * Received headers as grpc-js reads them: pseudo-headers left out, `-bin` values decoded. A
   * repeated header is an array (our session server), or joined with ", " (Node's HTTP/2 client,
   * for the runner's trailers): split again for `-bin` keys, as base64 has neither.
   */
  static fromHeaders(headers: Record<string, string | string[] | number | undefined>): Metadata {
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(headers)) {
      if (key.startsWith(":") || value === undefined) continue;
      for (const text of Array.isArray(value) ? value : [String(value)]) {
        if (!key.endsWith("-bin")) metadata.add(key, text);
        else for (const part of text.split(",")) metadata.add(key, Buffer.from(part.trim(), "base64"));
      }
    }
    return metadata;
  }

  get(key: string): MetadataValue[] {
    return this.values.get(key.toLowerCase()) ?? [];
  }

  set(key: string, value: MetadataValue): void {
    this.values.set(key.toLowerCase(), [value]);
  }

  add(key: string, value: MetadataValue): void {
    const list = this.values.get(key.toLowerCase());
    if (list) list.push(value);
    else this.values.set(key.toLowerCase(), [value]);
  }

  entries(): IterableIterator<[string, MetadataValue[]]> {
    return this.values.entries();
  }
}

/** A call that ended with a status other than OK, as grpc-js's ServiceError has it. */
export class GrpcError extends Error {
  readonly code: StatusCode;
  readonly details: string;
  readonly metadata: Metadata;

  constructor(code: StatusCode, details: string, metadata = new Metadata()) {
    super(`${code} ${NAMES.get(code) ?? "UNKNOWN"}: ${details}`);
    this.name = "GrpcError";
    this.code = code;
    this.details = details;
    this.metadata = metadata;
  }
}

/** The status for an HTTP status other than 200 without a gRPC status (the gRPC spec's table). */
export function statusOfHttp(httpStatus: number): StatusCode {
  switch (httpStatus) {
    case 400:
      return Status.INTERNAL;
    case 401:
      return Status.UNAUTHENTICATED;
    case 403:
      return Status.PERMISSION_DENIED;
    case 404:
      return Status.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return Status.UNAVAILABLE;
    default:
      return Status.UNKNOWN;
  }
}
