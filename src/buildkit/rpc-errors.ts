// Sentences for gRPC failures, so a person reads "nothing is listening at tcp://…" rather than
// "14 UNAVAILABLE: No connection established".
import { Status } from "./grpc/status.js";

/** What a failed call says: its status code and details (ours, or grpc-js's ServiceError). */
export interface ServiceError {
  code: number;
  details?: string;
  message: string;
}

export interface RpcFailure {
  message: string;
  /** True when the runner was never properly reached (as opposed to answering with an error). */
  connection: boolean;
}

export interface FailureContext {
  endpoint: string;
  timeoutMs: number;
  /** Whether the client spoke TLS, which changes what a dropped connection most likely means. */
  usingTls: boolean;
}

export function describeRpcFailure(error: ServiceError, context: FailureContext): RpcFailure {
  const { endpoint, timeoutMs } = context;
  const details = error.details ?? error.message;
  const connection = (message: string): RpcFailure => ({ message, connection: true });
  if (error.code === Status.DEADLINE_EXCEEDED) {
    return connection(`The runner at ${endpoint} did not answer within ${formatSeconds(timeoutMs)}.`);
  }
  if (error.code === Status.UNAVAILABLE) {
    return connection(describeUnavailable(details, context));
  }
  return { message: `The runner at ${endpoint} answered: ${details}`, connection: false };
}

function describeUnavailable(details: string, { endpoint, usingTls }: FailureContext): string {
  const has = (...needles: string[]) => needles.some((needle) => details.includes(needle));
  if (has("ECONNREFUSED")) return `Nothing is listening at ${endpoint} (connection refused).`;
  if (has("ENOENT")) return `There is no runner socket at ${endpoint} (no such file).`;
  if (has("EACCES")) return `The runner socket at ${endpoint} is not accessible (permission denied).`;
  if (has("ENOTFOUND", "EAI_AGAIN")) return `The host of ${endpoint} cannot be resolved.`;
  if (has("EHOSTUNREACH", "ENETUNREACH")) return `The host of ${endpoint} cannot be reached.`;
  if (has("altnames", "does not match certificate")) {
    return `The runner's certificate at ${endpoint} is not valid for that host name; set the TLS server name to a name in the certificate.`;
  }
  if (
    has(
      "unable to verify",
      "self-signed certificate",
      "self signed certificate",
      "unable to get local issuer",
      "certificate signature failure",
    )
  ) {
    return `The runner's certificate at ${endpoint} is not signed by the given CA.`;
  }
  if (has("certificate required", "CERTIFICATE_REQUIRED")) {
    return `The runner at ${endpoint} requires a client certificate, and none was given.`;
  }
  if (has("unknown ca", "bad certificate", "BAD_CERTIFICATE", "UNKNOWN_CA", "certificate unknown")) {
    return `The runner at ${endpoint} refused the client certificate: it is not signed by a CA the runner trusts.`;
  }
  if (has("wrong version number", "WRONG_VERSION_NUMBER", "packet length too long")) {
    return `The runner at ${endpoint} does not speak TLS; connect without TLS material.`;
  }
  if (!usingTls && has("the connection closed", "ECONNRESET")) {
    return `The runner at ${endpoint} closed the connection; if it serves TLS, give its CA, a client certificate and key.`;
  }
  return `The runner at ${endpoint} is unavailable: ${details}`;
}

export function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
}
