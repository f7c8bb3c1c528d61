// The action's inputs: every name in one place, read once, turned into validated options.
import * as core from "@actions/core";
import type { RunnerInputNames, RunnerInputs } from "../runner/options.js";
import { parseBoolean } from "../runner/options.js";
import { isPemText } from "../buildkit/tls.js";

export const INPUT = {
  endpoint: "endpoint",
  tlsCaCert: "tls-cacert",
  tlsCert: "tls-cert",
  tlsKey: "tls-key",
  tlsServerName: "tls-servername",
  connectTimeout: "connect-timeout",
  allowPlaintext: "allow-plaintext",
  buildkitVersion: "buildkit-version",
  versionMismatch: "buildkit-version-mismatch",
} as const;

export const ACTION_RUNNER_NAMES: RunnerInputNames = {
  endpoint: `input ${INPUT.endpoint}`,
  tls: {
    caCert: `input ${INPUT.tlsCaCert}`,
    cert: `input ${INPUT.tlsCert}`,
    key: `input ${INPUT.tlsKey}`,
  },
  connectTimeout: `input ${INPUT.connectTimeout}`,
  allowPlaintext: `input ${INPUT.allowPlaintext}`,
  buildkitVersion: `input ${INPUT.buildkitVersion}`,
  versionMismatch: `input ${INPUT.versionMismatch}`,
};

function input(name: string): string | undefined {
  return core.getInput(name) || undefined;
}

export function readRunnerInputs(): RunnerInputs {
  const key = input(INPUT.tlsKey);
  // A key given inline is a secret: mask it before anything can print it.
  if (key && isPemText(key)) maskMultiline(key);
  return {
    endpoint: input(INPUT.endpoint),
    tls: {
      caCert: input(INPUT.tlsCaCert),
      cert: input(INPUT.tlsCert),
      key,
      serverName: input(INPUT.tlsServerName),
    },
    connectTimeout: input(INPUT.connectTimeout),
    allowPlaintext: parseBoolean(input(INPUT.allowPlaintext), ACTION_RUNNER_NAMES.allowPlaintext, false),
    buildkitVersion: input(INPUT.buildkitVersion),
    versionMismatch: input(INPUT.versionMismatch),
  };
}

/** The runner masks a registered value only where it appears whole; mask every line as well. */
export function maskMultiline(value: string): void {
  core.setSecret(value);
  for (const line of value.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed.length >= 8 && !trimmed.startsWith("-----")) core.setSecret(trimmed);
  }
}
