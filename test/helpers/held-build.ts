// A build held in flight on a runner: the CLI builds a step that sleeps, in the background, until
// stop() cancels it (SIGTERM makes the CLI cancel the build on the runner).
import { spawn, type ChildProcess } from "node:child_process";
import { BuildkitClient, parseEndpoint } from "../../src/buildkit/index.js";
import { CLI_BUNDLE, cleanEnv, REPO_ROOT } from "./cli.js";
import { makeContext, run } from "./contexts.js";

export interface HeldBuild {
  child: ChildProcess;
  /** Cancels the build and waits for the CLI to exit; safe to call twice. */
  stop(): Promise<void>;
}

export function holdBuild(address: string): HeldBuild {
  const context = makeContext({
    Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", run(`sleep 120; echo ${Math.random()}`)].join(
      "\n",
    ),
  });
  const child = spawn(process.execPath, [CLI_BUNDLE, "build", "--addr", address, context], {
    env: cleanEnv(),
    cwd: REPO_ROOT,
    stdio: "ignore",
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Waits until the runner at `address` (a unix socket) lists at least `count` builds in flight. */
export async function waitForBuildsInFlight(address: string, count: number): Promise<void> {
  const client = new BuildkitClient({ endpoint: parseEndpoint(address), tls: {}, connectTimeoutMs: 10_000 });
  try {
    const deadline = Date.now() + 120_000;
    while (((await client.buildsInFlight()) ?? []).length < count) {
      if (Date.now() > deadline) throw new Error(`${address} never had ${count} builds in flight`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    client.close();
  }
}
