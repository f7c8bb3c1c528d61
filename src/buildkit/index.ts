// The public surface of the BuildKit client library: everything outside src/buildkit/ imports
// from here (an ESLint rule keeps it so). Nothing in the library imports @actions/*.
export * from "./client.js";
export * from "./endpoint.js";
export * from "./errors.js";
export * from "./platform.js";
export * from "./tls.js";
export { solve, type CacheEntry, type ExporterRequest, type SolveOptions } from "./solve.js";
export { locationsIn, type SourceLocation } from "./error-details.js";
export { ContextReadError } from "./context/walk.js";
export { Session, type SessionOptions, type SessionService } from "./session/tunnel.js";
export { healthService } from "./session/health.js";
export { watchLiveness, type LivenessWatch } from "./liveness.js";
export {
  fileSyncService,
  type FileSyncService,
  type StandInFiles,
  type SyncedDirs,
} from "./session/filesync.js";
export {
  fileSendService,
  type FileSendOptions,
  type FileSendService,
  type FileSendSink,
  type FileSendTarget,
} from "./session/filesend.js";
export { authService, type CredentialLookup, type RegistryCredential } from "./session/auth.js";
export { MAX_SECRET_BYTES, secretsService } from "./session/secrets.js";
export { contentStoreService } from "./session/content.js";
export { DEFAULT_SSH_ID, sshService } from "./session/ssh.js";
export type {
  StatusResponse,
  Vertex,
  VertexStatus,
  VertexWarning,
} from "./proto/moby/buildkit/v1/control_pb.js";
export * from "./frontend-call.js";
export * from "./ssh-dialer.js";
export * from "./git-context.js";
export * from "./upload-compression.js";
