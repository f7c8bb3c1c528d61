// moby.buildkit.secrets.v1.Secrets for the session: the daemon asks for a secret by id when a
// RUN --mount=type=secret (or a git source's auth secret) needs it. An id we do not have is
// answered NOT_FOUND: the daemon (v0.32.2, session/secrets/secrets.go) turns NOT_FOUND and
// UNIMPLEMENTED into its ErrNotFound, which an optional mount skips and a required one reports
// as "secret <id>: not found". Any other code fails even an optional mount.
import type { ServerCall, UnaryCallback } from "../grpc/server.js";
import { Status } from "../grpc/status.js";
import { create } from "@bufbuild/protobuf";
import {
  GetSecretResponseSchema,
  Secrets,
  type GetSecretRequest,
} from "../proto/moby/buildkit/secrets/v1/secrets_pb.js";
import type { SessionService } from "./tunnel.js";

/** buildx refuses secrets larger than this (secretsprovider.MaxSecretSize); check at input time. */
export const MAX_SECRET_BYTES = 500 * 1024;

export interface SecretsServiceOptions {
  /** Told of each request, e.g. for the debug log (never the value). */
  onRequest?: (id: string, found: boolean) => void;
}

export function secretsService(
  secrets: ReadonlyMap<string, Uint8Array>,
  options: SecretsServiceOptions = {},
): SessionService {
  return {
    service: Secrets,
    // The daemon calls Secrets without looking at the advertised method list.
    advertise: false,
    implementation: {
      getSecret: (call: ServerCall<GetSecretRequest, unknown>, callback: UnaryCallback) => {
        const id = call.request.id;
        const data = secrets.get(id);
        options.onRequest?.(id, data !== undefined);
        if (data === undefined) {
          callback({ code: Status.NOT_FOUND, details: `secret ${id} was not given to the build` });
          return;
        }
        callback(null, create(GetSecretResponseSchema, { data }));
      },
    },
  };
}
