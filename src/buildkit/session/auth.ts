// moby.filesync.v1.Auth for the session: the daemon asks us for registry credentials, one host
// at a time, when a registry challenges it. We answer Credentials only, and refuse the token
// authority methods with UNIMPLEMENTED: that is what makes the daemon (v0.32.2,
// util/resolver/authorizer.go) fall back to Credentials and fetch tokens from the registry itself.
// Any other error code on GetTokenAuthority would fail the pull or push.
import type { ServerCall, UnaryCallback } from "../grpc/server.js";
import { Status } from "../grpc/status.js";
import { create } from "@bufbuild/protobuf";
import {
  Auth,
  CredentialsResponseSchema,
  type CredentialsRequest,
} from "../proto/moby/filesync/v1/auth_pb.js";
import type { SessionService } from "./tunnel.js";

/** What the daemon gets for a host. An identity (refresh) token goes in `secret` with no username. */
export interface RegistryCredential {
  username: string;
  secret: string;
}

/**
 * Credentials for the registry host the daemon asks about (`registry-1.docker.io` for Docker Hub,
 * `ghcr.io`, `127.0.0.1:5000`), or undefined for anonymous access. The signal aborts when the
 * daemon gives up on the call. A thrown error fails the daemon's pull or push.
 */
export type CredentialLookup = (
  host: string,
  signal: AbortSignal,
) => RegistryCredential | undefined | Promise<RegistryCredential | undefined>;

export interface AuthServiceOptions {
  /** Told of each answered request, e.g. to log "sharing credentials for HOST" once per host. */
  onCredentials?: (host: string, found: boolean) => void;
  /**
   * Told of an error thrown by the lookup (an InputError from a failing credential helper, say).
   * The daemon only reports it wrapped in its own words; the caller can print this one instead.
   */
  onError?: (error: unknown) => void;
}

/** The daemon waits 60 s for a session's credentials; give up a little earlier, with our reason. */
const LOOKUP_TIMEOUT_MS = 55_000;

type CredentialsCall = ServerCall<CredentialsRequest, unknown>;

export function authService(lookup: CredentialLookup, options: AuthServiceOptions = {}): SessionService {
  const unimplemented = (name: string) => (_call: ServerCall<unknown, unknown>, callback: UnaryCallback) =>
    callback({
      code: Status.UNIMPLEMENTED,
      details: `${name} is not offered by this client; the runner fetches registry tokens itself`,
    });
  return {
    service: Auth,
    // The daemon calls Auth without looking at the advertised method list.
    advertise: false,
    implementation: {
      credentials: (call: CredentialsCall, callback: UnaryCallback) => {
        answerCredentials(call, lookup, options).then(
          (credential) => callback(null, create(CredentialsResponseSchema, credential ?? {})),
          (error: unknown) => {
            options.onError?.(error);
            callback({ code: Status.FAILED_PRECONDITION, details: messageOf(error) });
          },
        );
      },
      fetchToken: unimplemented("FetchToken"),
      getTokenAuthority: unimplemented("GetTokenAuthority"),
      verifyTokenAuthority: unimplemented("VerifyTokenAuthority"),
    },
  };
}

async function answerCredentials(
  call: CredentialsCall,
  lookup: CredentialLookup,
  options: AuthServiceOptions,
): Promise<RegistryCredential | undefined> {
  const host = call.request.host;
  const controller = new AbortController();
  const onCancel = () =>
    controller.abort(new Error(`the runner stopped waiting for credentials for ${host}`));
  call.once("cancelled", onCancel);
  const timer = setTimeout(
    () => controller.abort(new Error(`looking up credentials for ${host} took too long`)),
    LOOKUP_TIMEOUT_MS,
  );
  try {
    const credential = await untilAborted(
      Promise.resolve(lookup(host, controller.signal)),
      controller.signal,
    );
    options.onCredentials?.(host, credential !== undefined);
    return credential;
  } finally {
    clearTimeout(timer);
    call.off("cancelled", onCancel);
  }
}

/** The lookup's result, or the abort reason if the signal fires first (a lookup may ignore it). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
