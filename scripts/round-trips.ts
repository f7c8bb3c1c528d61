// `node --import tsx scripts/round-trips.ts [--runs N] [--rtt MS] [CONTEXT]`: counts the round
// trips one cached build waits for, ours against buildctl's, on a local BuildKit runner (the test
// harness's, started and stopped here). Each client reaches the runner through the harness's
// shaping proxy (RTT MS, default 50) and a relay of ours in front of it that notes when bytes pass,
// as the client sees them. A wait is a pause of more than 0.7 of the round trip between two
// passings: the client, or the runner, waiting for an answer. CONTEXT (default: a `FROM scratch`
// COPY and RUN of busybox) is built once by each, untimed, first.
import { rmSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { startTestRunner, type TestRunner } from "../test/harness/runner.js";
import { buildctlArgsThrough, nonLoopbackAddress, startShapingProxy } from "../test/harness/shaping-proxy.js";
import { dockerfileBuildArgs } from "../test/helpers/buildctl.js";
import { CLI_BUNDLE, runProcess } from "../test/helpers/cli.js";
import { makeContext, run } from "../test/helpers/contexts.js";

type ClientName = "ours" | "buildctl";

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

/** One cached build by `client` through the relay; throws with its stderr when it fails. */
async function build(client: ClientName, runner: TestRunner, relay: Relay): Promise<void> {
  const connection = buildctlArgsThrough(runner, relay.address);
  const [command, ...commandArgs] =
    client === "ours"
      ? [process.execPath, CLI_BUNDLE, "build", ...connection, context!]
      : [join(runner.binDir, "buildctl"), ...connection, ...dockerfileBuildArgs(context!)];
  const result = await runProcess(command!, commandArgs, { timeoutMs: 120_000 });
  if (result.code !== 0) {
    throw new Error(`${client} exited ${result.code ?? result.signal}:\n${result.stderr.slice(-2000)}`);
  }
}

const runner = await startTestRunner();
try {
  const target = new URL(runner.tcpAddress);
  const proxy = await startShapingProxy({
    target: { host: target.hostname, port: Number(target.port) },
    delayMs: rttMs / 2,
    mbitPerSecond: 100,
    listenHost: nonLoopbackAddress(),
  });
  const relay = await Relay.start(proxy.host, proxy.port);
  try {
    const waits: Record<ClientName, number[]> = { ours: [], buildctl: [] };
    for (const client of ["ours", "buildctl"] as const) {
      await build(client, runner, relay);
      relay.takeWaits();
    }
    for (let i = 0; i < runs; i++) {
      for (const client of i % 2 === 0 ? (["ours", "buildctl"] as const) : (["buildctl", "ours"] as const)) {
        await build(client, runner, relay);
        waits[client].push(relay.takeWaits());
      }
    }
    console.log(
      `round trips waited for by one cached build over a ${rttMs} ms round trip, ${runs} runs each:`,
    );
    console.log(`  ours:     ${waits.ours.join(", ")}`);
    console.log(`  buildctl: ${waits.buildctl.join(", ")}`);
  } finally {
    await relay.close();
    await proxy.close();
  }
} finally {
  await runner.stop();
  if (ownContext) rmSync(context, { recursive: true, force: true });
}
