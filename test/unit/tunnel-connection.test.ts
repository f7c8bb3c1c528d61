// The session tunnel's two ways of connecting our HTTP/2 server to the Control.Session call, each
// against a real grpc-js server standing in for the daemon's end of the call: bytes both ways
// whole and in order, the socket pair's directory gone by the time the server has its end, and
// the server's connection closed when the runner goes away.
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import type { Duplex } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  BytesMessageSchema,
  Control,
  type BytesMessage,
} from "../../src/buildkit/proto/moby/buildkit/v1/control_pb.js";
import { callBidiStream, FLOW_CONTROL_WINDOW_BYTES } from "../../src/buildkit/rpc.js";
import { GrpcConnection } from "../../src/buildkit/grpc/connection.js";
import { connectTunnel, type TunnelConnectionKind } from "../../src/buildkit/session/tunnel-connection.js";
import { TUNNEL_MESSAGE_BYTES } from "../../src/buildkit/session/tunnel-writer.js";
import { tempDir } from "../helpers/temp.js";

type DaemonEnd = grpc.ServerDuplexStream<BytesMessage, BytesMessage>;

const KINDS: TunnelConnectionKind[] = ["socket", "stream"];

describe("the session tunnel's connection", () => {
  let server: grpc.Server;
  let client: GrpcConnection;
  /** What the next Session call does on the daemon's side. */
  let daemon: (call: DaemonEnd) => void = (call) => call.end();

  beforeAll(async () => {
    server = new grpc.Server();
    server.addService(
      {
        session: {
          path: `/${Control.typeName}/${Control.method.session.name}`,
          requestStream: true,
          responseStream: true,
          requestSerialize: (message: BytesMessage) => Buffer.from(toBinary(BytesMessageSchema, message)),
          requestDeserialize: (bytes: Buffer) => fromBinary(BytesMessageSchema, bytes),
          responseSerialize: (message: BytesMessage) => Buffer.from(toBinary(BytesMessageSchema, message)),
          responseDeserialize: (bytes: Buffer) => fromBinary(BytesMessageSchema, bytes),
        },
      },
      { session: (call: DaemonEnd) => daemon(call) },
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    client = new GrpcConnection({
      target: { kind: "tcp", host: "127.0.0.1", port },
      connectTimeoutMs: 5000,
      windowBytes: FLOW_CONTROL_WINDOW_BYTES,
    });
  });

  afterAll(() => {
    client.close();
    server.forceShutdown();
  });

  for (const kind of KINDS) {
    it(`${kind}: the bytes go both ways whole and in order, up in messages of at most 1 MiB`, async () => {
      const down = randomBytes(3 * 1024 * 1024 + 17);
      const up = randomBytes(5 * 1024 * 1024 + 5);
      const parentDir = tempDir("rb-tunnel-");
      const upMessages: Buffer[] = [];
      const daemonDone = new Promise<void>((resolve, reject) => {
        daemon = (call) => {
          call.on("data", (message: BytesMessage) => upMessages.push(Buffer.from(message.data)));
          call.on("end", () => {
            call.end();
            resolve();
          });
          call.on("error", reject);
          // The runner writes in 16 KiB messages, and half-closes when done.
          for (let offset = 0; offset < down.length; offset += 16 * 1024) {
            call.write(create(BytesMessageSchema, { data: down.subarray(offset, offset + 16 * 1024) }));
          }
        };
      });
      const call = callBidiStream(client, Control.method.session, {});
      const downReceived: Buffer[] = [];
      let dirAtAccept: string | undefined;
      const connected = new Promise<Duplex>((resolve) => {
        const close = connectTunnel(
          call,
          false,
          (connection) => {
            dirAtAccept = readdirSync(parentDir).join(", ");
            resolve(connection);
          },
          { kind, parentDir },
        );
        call.on("close", close);
      });
      const connection = await connected;
      connection.on("data", (chunk: Buffer) => downReceived.push(chunk));
      // Once all of `down` is in, the server's end answers with `up` and closes its side.
      await new Promise<void>((resolve) => {
        const check = () => {
          if (Buffer.concat(downReceived).length < down.length) return;
          connection.off("data", check);
          resolve();
        };
        connection.on("data", check);
      });
      connection.end(up);
      await daemonDone;

      assert.ok(Buffer.concat(downReceived).equals(down), "the runner's bytes arrived whole");
      assert.ok(Buffer.concat(upMessages).equals(up), "our server's bytes arrived whole");
      assert.ok(upMessages.length >= Math.ceil(up.length / TUNNEL_MESSAGE_BYTES));
      assert.ok(upMessages.every((message) => message.length <= TUNNEL_MESSAGE_BYTES));
      if (kind === "socket") assert.equal(dirAtAccept, "", "the socket's directory is gone once connected");
      assert.equal(readdirSync(parentDir).join(", "), "");
    });

    it(`${kind}: the call ending (the runner gone, or given up on) closes the server's connection`, async () => {
      daemon = (call) => {
        call.on("error", () => {});
        call.write(create(BytesMessageSchema, { data: Buffer.from("hello") }));
      };
      const call = callBidiStream(client, Control.method.session, {});
      call.on("error", () => {});
      const parentDir = tempDir("rb-tunnel-");
      const connection = await new Promise<Duplex>((resolve) => {
        const close = connectTunnel(call, false, resolve, { kind, parentDir });
        call.on("close", close);
      });
      connection.on("error", () => {});
      const first = await new Promise<Buffer>((resolve) => connection.once("data", resolve));
      assert.equal(first.toString(), "hello");
      const closed = new Promise<void>((resolve) => connection.once("close", () => resolve()));
      call.cancel();
      await closed;
      assert.equal(readdirSync(parentDir).join(", "), "");
    });
  }
});
