// grpc.health.v1.Health for the session: the daemon checks it every few seconds and closes the
// session after two failures, so it must always answer SERVING while the session is open.
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import {
  Health,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "../proto/grpc/health/v1/health_pb.js";
import type { SessionService } from "./tunnel.js";

export function healthService(): SessionService {
  return {
    service: Health,
    advertise: true,
    implementation: {
      check: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
        callback(
          null,
          create(HealthCheckResponseSchema, { status: HealthCheckResponse_ServingStatus.SERVING }),
        ),
    },
  };
}
