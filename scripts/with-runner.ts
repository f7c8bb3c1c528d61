// `npm run with-runner -- COMMAND...`: starts a local BuildKit runner with mTLS (the test
// harness's), runs COMMAND with BUILDKIT_HOST and the BUILDKIT_TLS_* variables pointing at it,
// then stops the runner. With no command, it prints the variables as NAME=value lines (for
// `set -a; . file` or $GITHUB_ENV) and keeps the runner up until Ctrl-C.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { startTestRunner, type TestRunner } from "../test/harness/runner.js";

function clientEnv(runner: TestRunner): Record<string, string> {
  return {
    BUILDKIT_HOST: runner.tcpAddress,
    BUILDKIT_TLS_CACERT: runner.certs.caCert,
    BUILDKIT_TLS_CERT: runner.certs.clientCert,
    BUILDKIT_TLS_KEY: runner.certs.clientKey,
  };
}

const command = process.argv.slice(2);
console.error("Starting a local BuildKit runner (the first run builds buildkitd from its Go module)...");
const runner = await startTestRunner();
const env = clientEnv(runner);
let exitCode = 0;
try {
  if (command.length === 0) {
    for (const [name, value] of Object.entries(env)) console.log(`${name}=${value}`);
    console.error("Runner is up; press Ctrl-C to stop it.");
    // A buildkitd that dies leaves nothing to keep node running: without this, it would exit
    // silently and leave the runner's directory behind.
    let stopping = false;
    const died = runner.exited.then((code) => {
      if (stopping) return;
      // Its log goes with the runner's directory: show its end first.
      const log = readFileSync(runner.logFile, "utf8").trimEnd().split("\n").slice(-20).join("\n");
      console.error(`buildkitd exited (${code ?? "killed by a signal"}); the end of its log:\n${log}`);
      exitCode = 1;
    });
    await Promise.race([
      died,
      new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      }),
    ]);
    stopping = true;
  } else {
    const child = spawn(command[0]!, command.slice(1), { stdio: "inherit", env: { ...process.env, ...env } });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on("SIGINT", forward);
    process.on("SIGTERM", forward);
    exitCode = await new Promise<number>((resolve) => child.once("exit", (code) => resolve(code ?? 1)));
  }
} finally {
  await runner.stop();
}
process.exit(exitCode);
