// What BuildKit says about a failure beyond its message: the typed details it marshals into the
// grpc-status-details-bin trailer. We read the Dockerfile locations (errdefs.Source), so that a
// failure can be pointed at its file and line.
import { fromBinary } from "@bufbuild/protobuf";
import { StatusSchema } from "./proto/google/rpc/status_pb.js";

export interface SourceLocation {
  /** The file as BuildKit names it: the Dockerfile's name inside its directory. */
  filename: string;
  /** 1-based, inclusive. */
  startLine: number;
  endLine: number;
  /** The whole file as BuildKit has it, line by line, for the log's excerpt. */
  sourceLines: string[];
}

/** The shape shared by pb.SourceInfo/pb.Range and their JSON form. */
interface SourceShape {
  info?: { filename?: string; data?: Uint8Array };
  ranges?: Array<{ start?: { line?: number }; end?: { line?: number } }>;
}

const DETAILS_KEY = "grpc-status-details-bin";
// BuildKit registers its error details with typeurl as JSON: v0.32.2 sends
// "github.com/moby/buildkit/errdefs.Source+json", the value being Go's encoding/json of it.
const SOURCE_TYPE = /(^|\/)errdefs\.Source\+json$/;

/** The source locations in a gRPC error's trailer; empty when there are none or they do not parse. */
export function sourceLocations(metadata: { get(key: string): unknown[] } | undefined): SourceLocation[] {
  const locations: SourceLocation[] = [];
  for (const value of metadata?.get(DETAILS_KEY) ?? []) {
    if (!Buffer.isBuffer(value)) continue;
    try {
      for (const detail of fromBinary(StatusSchema, value).details) {
        if (!SOURCE_TYPE.test(detail.typeUrl)) continue;
        const source = sourceFromJson(detail.value);
        locations.push(...locationsIn(source.info, source.ranges ?? []));
      }
    } catch {
      // A trailer we cannot read only costs the annotation; the message still says what failed.
    }
  }
  return locations;
}

/** Go's encoding/json of errdefs.Source: bytes as base64, the rest as the proto field names. */
function sourceFromJson(value: Uint8Array): SourceShape {
  const parsed = JSON.parse(Buffer.from(value).toString("utf8")) as {
    info?: { filename?: string; data?: string };
    ranges?: SourceShape["ranges"];
  };
  return {
    info: parsed.info && {
      filename: parsed.info.filename,
      data: Buffer.from(parsed.info.data ?? "", "base64"),
    },
    ranges: parsed.ranges,
  };
}

/** The ranges of one source file (an error's, or a warning's from the Status stream). */
export function locationsIn(
  info: SourceShape["info"],
  ranges: NonNullable<SourceShape["ranges"]>,
): SourceLocation[] {
  if (!info) return [];
  const lines = new TextDecoder().decode(info.data ?? new Uint8Array()).split("\n");
  if (lines.at(-1) === "") lines.pop();
  const locations: SourceLocation[] = [];
  for (const range of ranges) {
    const startLine = range.start?.line ?? 0;
    const endLine = Math.max(range.end?.line ?? startLine, startLine);
    if (startLine < 1) continue;
    locations.push({ filename: info.filename ?? "", startLine, endLine, sourceLines: lines });
  }
  return locations;
}
