// `npm run with-runner -- node --import tsx scripts/round-trips.ts [--runs N] [--rtt MS] [CONTEXT]`:
// counts the round trips one cached build waits for, ours against buildctl's, on the runner that
// BUILDKIT_HOST and BUILDKIT_TLS_* name (`npm run with-runner` sets them). Each client reaches the
// runner through the harness's shaping proxy (RTT MS, default 50) and a relay of ours in front of
// it that notes when bytes pass, as the client sees them. A wait is a pause of more than 0.7 of
// the round trip between two passings: the client, or the runner, waiting for an answer.
// CONTEXT (default: a `FROM scratch` COPY and RUN of busybox) is built once by each untimed first.
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { nonLoopbackAddress, startShapingProxy } from "../test/harness/shaping-proxy.js";
import { makeContext, run } from "../test/helpers/contexts.js";
import { dockerfileBuildArgs } from "../test/helpers/buildctl.js";
import { BUILDKIT_VERSION } from "../src/version.js";

const ROOT = join(import.meta.dirname, "..");
const BUILDCTL = join(
  process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? "/root", ".cache"),
  "remote-buildkit",
  `buildkit-v${BUILDKIT_VERSION}`,
  "bin",
  "buildctl",
);

function usage(message: string): never {
  console.error(`round-trips: ${message}\nusage: round-trips.ts [--runs N] [--rtt MS] [CONTEXT]`);
  process.exit(2);
}

const args = process.argv.slice(2);
let runs = 3;
let rttMs = 50;
let context: string | undefined;
for (let i = 0; i < args.length; i++) {
  const arg = args[i]!;
  if (arg === "--runs") runs = Number(args[++i]);
  else if (arg === "--rtt") rttMs = Number(args[++i]);
  else if (!arg.startsWith("-")) context = arg;
  else usage(`unknown flag ${arg}`);
}
if (!(Number.isInteger(runs) && runs > 0)) usage("--runs takes a positive integer");
if (!(rttMs > 0)) usage("--rtt takes a positive number of milliseconds");
const { BUILDKIT_HOST, BUILDKIT_TLS_CACERT, BUILDKIT_TLS_CERT, BUILDKIT_TLS_KEY } = process.env;
if (!BUILDKIT_HOST?.startsWith("tcp://") || !BUILDKIT_TLS_CACERT || !BUILDKIT_TLS_CERT || !BUILDKIT_TLS_KEY) {
  usage("give a tcp:// BUILDKIT_HOST with BUILDKIT_TLS_CACERT, _CERT and _KEY (npm run with-runner -- ...)");
}
const target = new URL(BUILDKIT_HOST);
const ownContext = context === undefined;
context ??= makeContext({
  Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", run("/bin/busybox echo built > /built")].join(
    "\n",
  ),
});

/** Passings of bytes as the client sees them: when it sends, and when it is delivered to it. */
class Relay {
  private constructor(
    private readonly server: Server,
    readonly address: string,
    private readonly passings: number[],
  ) {}

  static async start(proxyHost: string, proxyPort: number): Promise<Relay> {
    const passings: number[] = [];
    const server = createServer((client: Socket) => {
      const upstream = connect({ host: proxyHost, port: proxyPort });
      for (const socket of [client, upstream]) {
        socket.setNoDelay(true);
        socket.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.on("data", (data) => {
        passings.push(performance.now());
        upstream.write(data);
      });
      upstream.on("data", (data) => {
        passings.push(performance.now());
        client.write(data);
      });
      client.on("end", () => upstream.end());
      upstream.on("end", () => client.end());
    });
    await new Promise<void>((resolve) => server.listen(0, proxyHost, resolve));
    const { port } = server.address() as { port: number };
    return new Relay(server, `tcp://${proxyHost}:${port}`, passings);
  }

  /** Waits since the last call: pauses between passings longer than 0.7 round trips. */
  takeWaits(): number {
    let waits = 0;
    for (let i = 1; i < this.passings.length; i++) {
      if (this.passings[i]! - this.passings[i - 1]! > 0.7 * rttMs) waits++;
    }
    this.passings.length = 0;
    return waits;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function clientCommand(client: "ours" | "buildctl", address: string): string[] {
  // The proxy listens on a non-loopback address (a link our client judges by its round trip);
  // the runner's certificate names 127.0.0.1.
  if (client === "ours") {
    return [
      process.execPath,
      join(ROOT, "dist", "cli.mjs"),
      "build",
      "--addr",
      address,
      "--tlsservername",
      "127.0.0.1",
      context!,
    ];
  }
  const tls = [
    "--tlscacert",
    BUILDKIT_TLS_CACERT!,
    "--tlscert",
    BUILDKIT_TLS_CERT!,
    "--tlskey",
    BUILDKIT_TLS_KEY!,
  ];
  return [
    BUILDCTL,
    "--addr",
    address,
    ...tls,
    "--tlsservername",
    "127.0.0.1",
    ...dockerfileBuildArgs(context!),
  ];
}

function runClient(command: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (data: Buffer) => (stderr += data.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${command[0]} exited ${code}:\n${stderr.slice(-2000)}`));
    });
  });
}

const proxy = await startShapingProxy({
  target: { host: target.hostname, port: Number(target.port) },
  delayMs: rttMs / 2,
  mbitPerSecond: 100,
  listenHost: nonLoopbackAddress(),
});
const relay = await Relay.start(proxy.host, proxy.port);
try {
  const waits: Record<"ours" | "buildctl", number[]> = { ours: [], buildctl: [] };
  for (const client of ["ours", "buildctl"] as const) {
    await runClient(clientCommand(client, relay.address));
    relay.takeWaits();
  }
  for (let i = 0; i < runs; i++) {
    for (const client of i % 2 === 0 ? (["ours", "buildctl"] as const) : (["buildctl", "ours"] as const)) {
      await runClient(clientCommand(client, relay.address));
      waits[client].push(relay.takeWaits());
    }
  }
  console.log(`round trips waited for by one cached build over a ${rttMs} ms round trip, ${runs} runs each:`);
  console.log(`  ours:     ${waits.ours.join(", ")}`);
  console.log(`  buildctl: ${waits.buildctl.join(", ")}`);
} finally {
  await relay.close();
  await proxy.close();
  if (ownContext) rmSync(context, { recursive: true, force: true });
}
