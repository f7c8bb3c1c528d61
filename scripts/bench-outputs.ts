// `npx tsx scripts/bench-outputs.ts [--runs N] [--mib M]`: times receiving build outputs through
// our FileSend service against buildctl on the same local runner (the test harness's): a local
// output and a tar output of one M MiB file (default 1024). The build itself is cached first, so
// each timed run is the export alone. Our client runs as a child process (Session + solve, no
// CLI wiring yet) under /usr/bin/time like buildctl, for wall time and peak RSS; the child also
// reports its own time from connecting to the end of Solve, without node's start-up.
import { dockerfileBuildArgs } from "../test/helpers/buildctl.js";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { runnerEnv, startTestRunner, type TestRunner } from "../test/harness/runner.js";
import { makeContext, run } from "../test/helpers/contexts.js";

const execFileAsync = promisify(execFile);
const SELF = import.meta.filename;
const TIME = "/usr/bin/time";
const MINUTE = 60_000;

type Kind = "local" | "tar";

interface Sample {
  seconds: number;
  maxRssMiB: number;
  innerSeconds?: number;
}

if (process.argv[2] === "--child") {
  await child(process.argv[3] as Kind, process.argv[4]!, process.argv[5]!);
} else {
  await main();
}

async function main(): Promise<void> {
  const runs = Number(option("--runs") ?? 3);
  const mib = Number(option("--mib") ?? 1024);
  const context = makeContext({
    Dockerfile: [
      "FROM scratch",
      "COPY busybox /bin/busybox",
      run(`/bin/busybox head -c ${mib * 1024 * 1024} /dev/urandom > /big`),
    ].join("\n"),
  });
  const runner = await startTestRunner();
  try {
    // Cache the build: the timed runs measure the export only.
    await buildctl(runner, context, []);
    const samples: Record<string, Sample[]> = {};
    for (let index = 0; index < runs; index++) {
      for (const kind of ["local", "tar"] as const) {
        for (const client of ["ours", "buildctl"] as const) {
          const out = mkdtempSync(join(tmpdir(), "rb-bench-out-"));
          const dest = kind === "local" ? join(out, "dir") : join(out, "out.tar");
          const sample =
            client === "ours"
              ? await timeOurs(runner, kind, context, dest)
              : await timeBuildctl(runner, kind, context, dest);
          rmSync(out, { recursive: true, force: true });
          (samples[`${kind} ${client}`] ??= []).push(sample);
          console.error(`${kind} ${client} run ${index + 1}: ${JSON.stringify(sample)}`);
        }
      }
    }
    console.log(`\n${mib} MiB output, ${runs} runs each, median:\n`);
    console.log(
      "| output | ours (s) | ours in-process (s) | buildctl (s) | ratio | our peak RSS (MiB) | buildctl peak RSS (MiB) |",
    );
    console.log("| --- | --- | --- | --- | --- | --- | --- |");
    for (const kind of ["local", "tar"] as const) {
      const ours = samples[`${kind} ours`]!;
      const theirs = samples[`${kind} buildctl`]!;
      const oursSeconds = median(ours.map((s) => s.seconds));
      const theirSeconds = median(theirs.map((s) => s.seconds));
      console.log(
        `| ${kind} | ${oursSeconds.toFixed(2)} | ${median(ours.map((s) => s.innerSeconds ?? 0)).toFixed(2)} | ${theirSeconds.toFixed(2)} | ${(oursSeconds / theirSeconds).toFixed(2)} | ${Math.max(...ours.map((s) => s.maxRssMiB))} | ${Math.max(...theirs.map((s) => s.maxRssMiB))} |`,
      );
    }
  } finally {
    await runner.stop();
    rmSync(context, { recursive: true, force: true });
  }
}

function option(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index === -1 ? undefined : process.argv[index + 1];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Runs `command` under /usr/bin/time; returns its stdout and the wall seconds and peak RSS. */
async function timed(command: string[], env: NodeJS.ProcessEnv): Promise<{ stdout: string; sample: Sample }> {
  const { stdout, stderr } = await execFileAsync(TIME, ["-f", "TIME %e %M", ...command], {
    env,
    timeout: 10 * MINUTE,
    maxBuffer: 64 * 1024 * 1024,
  });
  const match = /TIME ([\d.]+) (\d+)\s*$/.exec(stderr);
  if (!match) throw new Error(`no timing in: ${stderr}`);
  return { stdout, sample: { seconds: Number(match[1]), maxRssMiB: Math.round(Number(match[2]) / 1024) } };
}

function buildctlArgs(runner: TestRunner, context: string, output: string[]): string[] {
  return [
    join(runner.binDir, "buildctl"),
    ...runner.buildctlArgs(),
    ...dockerfileBuildArgs(context, ...output),
  ];
}

async function buildctl(runner: TestRunner, context: string, output: string[]): Promise<void> {
  const [command, ...args] = buildctlArgs(runner, context, output);
  await execFileAsync(command!, args, { timeout: 10 * MINUTE, maxBuffer: 64 * 1024 * 1024 });
}

async function timeBuildctl(runner: TestRunner, kind: Kind, context: string, dest: string): Promise<Sample> {
  const { sample } = await timed(
    buildctlArgs(runner, context, ["--output", `type=${kind},dest=${dest}`]),
    process.env,
  );
  return sample;
}

async function timeOurs(runner: TestRunner, kind: Kind, context: string, dest: string): Promise<Sample> {
  const { stdout, sample } = await timed(
    [process.execPath, "--import", "tsx", SELF, "--child", kind, context, dest],
    {
      ...process.env,
      ...runnerEnv(runner),
    },
  );
  return { ...sample, innerSeconds: Number(stdout.trim().split("\n").pop()) };
}

/** The child: one build with one output through Session + solve + fileSendService. */
async function child(kind: Kind, context: string, dest: string): Promise<void> {
  const { BuildkitClient, BUILDCTL_TLS_FLAGS, loadTlsMaterial, parseEndpoint, silenceIpServerNameWarning } =
    await import("../src/buildkit/index.js");
  const { fileSendService } = await import("../src/buildkit/session/filesend.js");
  const { fileSyncService } = await import("../src/buildkit/session/filesync.js");
  const { healthService } = await import("../src/buildkit/session/health.js");
  const { Session } = await import("../src/buildkit/session/tunnel.js");
  const { solve } = await import("../src/buildkit/solve.js");
  const { runnerUnderTest } = await import("../test/harness/env.js");
  silenceIpServerNameWarning();
  const runner = runnerUnderTest();
  const started = performance.now();
  const client = new BuildkitClient({
    endpoint: parseEndpoint(runner.tcpAddress),
    tls: loadTlsMaterial(
      { caCert: runner.certs.caCert, cert: runner.certs.clientCert, key: runner.certs.clientKey },
      BUILDCTL_TLS_FLAGS,
    ),
    connectTimeoutMs: 10_000,
  });
  const signal = AbortSignal.timeout(10 * MINUTE);
  const fileSend = fileSendService(
    [kind === "local" ? { kind: "dir", dir: dest } : { kind: "file", path: dest }],
    {
      signal,
    },
  );
  const session = new Session(client, {
    sharedKey: "bench-outputs",
    services: [healthService(), fileSyncService({ context, dockerfile: context }), fileSend],
    signal,
  });
  try {
    await solve(client, {
      sessionId: session.id,
      frontend: "dockerfile.v0",
      frontendAttrs: { filename: "Dockerfile" },
      exporters: [{ type: kind, attrs: {} }],
      onStatus: () => {},
      signal,
    });
    await fileSend.idle();
  } finally {
    session.close();
    client.close();
  }
  console.log(((performance.now() - started) / 1000).toFixed(3));
}
