// The public surface of the BuildKit client library. Nothing here imports @actions/*.
export * from "./client.js";
export * from "./endpoint.js";
export * from "./errors.js";
export * from "./platform.js";
export * from "./tls.js";
export { locationsIn, type SourceLocation } from "./error-details.js";
export type {
  StatusResponse,
  Vertex,
  VertexStatus,
  VertexWarning,
} from "./proto/moby/buildkit/v1/control_pb.js";
