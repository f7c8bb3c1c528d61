// gRPC service definitions for grpc-js built from the protobuf-es descriptors, so the session
// server can serve our generated services without a second code generator.
import type * as grpc from "@grpc/grpc-js";
import type { DescService } from "@bufbuild/protobuf";
import { deserializer, methodPath } from "../rpc.js";
import { serializer } from "../encoder.js";

export function serviceDefinition(service: DescService): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    definition[method.localName] = {
      path: methodPath(method),
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: serializer(method.input) as (value: unknown) => Buffer,
      requestDeserialize: deserializer(method.input),
      responseSerialize: serializer(method.output) as (value: unknown) => Buffer,
      responseDeserialize: deserializer(method.output),
      originalName: method.name,
    };
  }
  return definition;
}

/** The full method paths a service contributes to the session's advertised method list. */
export function methodPaths(service: DescService): string[] {
  return service.methods.map(methodPath);
}
