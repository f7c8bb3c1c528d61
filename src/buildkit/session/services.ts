// gRPC service definitions built from the protobuf-es descriptors, so the session server can serve
// our generated services without a second code generator.
import type { DescService } from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "../grpc/server.js";
import { deserializer, methodPath } from "../rpc.js";
import { serializer } from "../encoder.js";

export function serviceDefinition(service: DescService): ServiceDefinition {
  const definition: Record<string, MethodDefinition> = {};
  for (const method of service.methods) {
    definition[method.localName] = {
      path: methodPath(method),
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestDeserialize: deserializer(method.input),
      responseSerialize: serializer(method.output),
    };
  }
  return definition;
}

/** The full method paths a service contributes to the session's advertised method list. */
export function methodPaths(service: DescService): string[] {
  return service.methods.map(methodPath);
}
