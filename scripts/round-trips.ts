// `node --import tsx scripts/round-trips.ts [--runs N] [--rtt MS] [--timeline] [CONTEXT]`: counts the round
// trips one cached build waits for, ours against buildctl's, on a local BuildKit runner (the test
// harness's, started and stopped here). Each client reaches the runner through the harness's
// shaping proxy (RTT MS, default 50) and a relay of ours in front of it that notes when bytes pass,
// as the client sees them. A wait is a pause of more than 0.7 of the round trip between two
// passings: the client, or the runner, waiting for an answer. CONTEXT (default: a `FROM scratch`
// COPY and RUN of busybox) is built once by each, untimed, first. --timeline prints each client's
// last run as bursts of bytes each way, and the waits between them, to tell which call waits.
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
  console.error(
    `round-trips: ${message}\nusage: round-trips.ts [--runs N] [--rtt MS] [--timeline] [CONTEXT]`,
  );
  process.exit(2);
}

const args = process.argv.slice(2);
let runs = 3;
let rttMs = 50;
let context: string | undefined;
let timeline = false;
for (let i = 0; i < args.length; i++) {
  const arg = args[i]!;
  if (arg === "--runs") runs = Number(args[++i]);
  else if (arg === "--rtt") rttMs = Number(args[++i]);
  else if (arg === "--timeline") timeline = true;
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

/** One passing of bytes as the client sees them: when, which way, how many. */
interface Passing {
  at: number;
  /** "up": the client sent; "down": bytes were delivered to it. */
  way: "up" | "down";
  bytes: number;
}

/** Passings of bytes as the client sees them: when it sends, and when it is delivered to it. */
class Relay {
  private constructor(
    private readonly server: Server,
    readonly address: string,
    private readonly passings: Passing[],
  ) {}

  static async start(proxyHost: string, proxyPort: number): Promise<Relay> {
    const passings: Passing[] = [];
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
        passings.push({ at: performance.now(), way: "up", bytes: data.length });
        upstream.write(data);
      });
      upstream.on("data", (data) => {
        passings.push({ at: performance.now(), way: "down", bytes: data.length });
        client.write(data);
      });
      client.on("end", () => upstream.end());
      upstream.on("end", () => client.end());
    });
    await new Promise<void>((resolve) => server.listen(0, proxyHost, resolve));
    const { port } = server.address() as { port: number };
    return new Relay(server, `tcp://${proxyHost}:${port}`, passings);
  }

  /**
   * The passings since the last call, and the waits among them: pauses between passings longer
   * than 0.7 round trips.
   */
  take(): { waits: number; passings: Passing[] } {
    const passings = this.passings.splice(0);
    let waits = 0;
    for (let i = 1; i < passings.length; i++) {
      if (passings[i]!.at - passings[i - 1]!.at > 0.7 * rttMs) waits++;
    }
    return { waits, passings };
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * One run as lines: each burst (passings with no wait between them) with its bytes each way,
 * then the wait after it; times from the first passing, in ms.
 */
function formatTimeline(passings: Passing[]): string[] {
  const lines: string[] = [];
  const origin = passings[0]?.at ?? 0;
  let burst = { start: origin, up: 0, down: 0 };
  for (let i = 0; i < passings.length; i++) {
    const passing = passings[i]!;
    burst[passing.way] += passing.bytes;
    const next = passings[i + 1];
    if (next !== undefined && next.at - passing.at <= 0.7 * rttMs) continue;
    const span = `${(burst.start - origin).toFixed(0).padStart(5)}–${(passing.at - origin).toFixed(0).padEnd(5)} ms`;
    lines.push(`  ${span}  up ${String(burst.up).padStart(7)} B  down ${String(burst.down).padStart(7)} B`);
    if (next !== undefined) {
      lines.push(
        `      wait ${(next.at - passing.at).toFixed(0)} ms (last ${passing.way}, next ${next.way})`,
      );
      burst = { start: next.at, up: 0, down: 0 };
    }
  }
  return lines;
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
    const last: Partial<Record<ClientName, Passing[]>> = {};
    for (const client of ["ours", "buildctl"] as const) {
      await build(client, runner, relay);
      relay.take();
    }
    for (let i = 0; i < runs; i++) {
      for (const client of i % 2 === 0 ? (["ours", "buildctl"] as const) : (["buildctl", "ours"] as const)) {
        await build(client, runner, relay);
        const taken = relay.take();
        waits[client].push(taken.waits);
        last[client] = taken.passings;
      }
    }
    if (timeline) {
      for (const client of ["ours", "buildctl"] as const) {
        console.log(`${client}, last run:`);
        for (const line of formatTimeline(last[client] ?? [])) console.log(line);
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
