// grpc.health.v1.Health for the session: the daemon checks it every few seconds and closes the
// session after two failures, so it must always answer SERVING while the session is open.
import type { ServerCall, UnaryCallback } from "../grpc/server.js";
import { create } from "@bufbuild/protobuf";
import {
  Health,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "../proto/grpc/health/v1/health_pb.js";
import type { SessionService } from "./tunnel.js";

/** `onCheck` hears each check: the daemon's checks are how a build notices the runner is alive. */
export function healthService(onCheck?: () => void): SessionService {
  return {
    service: Health,
    advertise: true,
    implementation: {
      check: (_call: ServerCall<unknown, unknown>, callback: UnaryCallback) => {
        onCheck?.();
        callback(
          null,
          create(HealthCheckResponseSchema, { status: HealthCheckResponse_ServingStatus.SERVING }),
        );
      },
    },
  };
}
