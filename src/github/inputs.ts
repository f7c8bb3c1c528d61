// The action's inputs: every name in one place, read once, turned into validated options.
import * as core from "@actions/core";
import type { RunnerInputNames, RunnerInputs } from "../runner/options.js";
import { parseBoolean } from "../values.js";
import { isPemText } from "../buildkit/tls.js";
import type { BuildInputNames, BuildInputs } from "../job/plan.js";
import type { JobInputNames, JobInputs } from "../job/prepare.js";
import { secretFromEnvLine, secretFromFileLine, secretFromValueLine } from "../job/secrets.js";
import { parseRegistryAuth } from "../credentials/registry-auth.js";
import { InputError } from "../errors.js";

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
  context: "context",
  file: "file",
  target: "target",
  buildArgs: "build-args",
  labels: "labels",
  platforms: "platforms",
  noCache: "no-cache",
  noCacheFilters: "no-cache-filters",
  buildContexts: "build-contexts",
  addHosts: "add-hosts",
  network: "network",
  shmSize: "shm-size",
  ulimit: "ulimit",
  pull: "pull",
  tags: "tags",
  push: "push",
  pushByDigest: "push-by-digest",
  ociMediatypes: "oci-mediatypes",
  compression: "compression",
  annotations: "annotations",
  provenance: "provenance",
  sbom: "sbom",
  secrets: "secrets",
  secretFiles: "secret-files",
  secretEnvs: "secret-envs",
  ssh: "ssh",
  registryAuth: "registry-auth",
  dockerConfig: "docker-config",
  outputs: "outputs",
  uploadArtifact: "upload-artifact",
  artifactName: "artifact-name",
  artifactRetentionDays: "artifact-retention-days",
  strictPlatforms: "strict-platforms",
  buildkitReleaseUrl: "buildkit-release-url",
  buildkitSha256: "buildkit-sha256",
  githubToken: "github-token",
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

export const ACTION_BUILD_NAMES: BuildInputNames = {
  context: `input ${INPUT.context}`,
  file: `input ${INPUT.file}`,
  buildArgs: `input ${INPUT.buildArgs}`,
  labels: `input ${INPUT.labels}`,
  platforms: `input ${INPUT.platforms}`,
  buildContexts: `input ${INPUT.buildContexts}`,
  addHosts: `input ${INPUT.addHosts}`,
  network: `input ${INPUT.network}`,
  shmSize: `input ${INPUT.shmSize}`,
  ulimits: `input ${INPUT.ulimit}`,
};

/** The build inputs, one item per line as docker/build-push-action reads them. */
export function readBuildInputs(): BuildInputs {
  const lines = (name: string) => core.getMultilineInput(name);
  const flag = (name: string) => parseBoolean(input(name), `input ${name}`, false);
  return {
    context: input(INPUT.context) ?? ".",
    file: input(INPUT.file),
    target: input(INPUT.target),
    buildArgs: lines(INPUT.buildArgs),
    labels: lines(INPUT.labels),
    platforms: lines(INPUT.platforms),
    noCache: flag(INPUT.noCache),
    noCacheFilters: lines(INPUT.noCacheFilters),
    buildContexts: lines(INPUT.buildContexts),
    addHosts: lines(INPUT.addHosts),
    network: input(INPUT.network),
    shmSize: input(INPUT.shmSize),
    ulimits: lines(INPUT.ulimit),
    pull: flag(INPUT.pull),
  };
}

export const ACTION_JOB_NAMES: JobInputNames = {
  tags: `input ${INPUT.tags}`,
  pushByDigest: `input ${INPUT.pushByDigest}`,
  ociMediatypes: `input ${INPUT.ociMediatypes}`,
  compression: `input ${INPUT.compression}`,
  annotations: `input ${INPUT.annotations}`,
  provenance: `input ${INPUT.provenance}`,
  sbom: `input ${INPUT.sbom}`,
  secretFiles: `input ${INPUT.secretFiles}`,
  secretEnvs: `input ${INPUT.secretEnvs}`,
  ssh: `input ${INPUT.ssh}`,
  outputs: `input ${INPUT.outputs}`,
};

/**
 * Secrets, credentials and the image. Secret values are masked before they are parsed further,
 * so that no error or log line can show them.
 */
export function readJobInputs(): JobInputs {
  const lines = (name: string) => core.getMultilineInput(name);
  const flag = (name: string) => parseBoolean(input(name), `input ${name}`, false);
  const secretLines = lines(INPUT.secrets);
  for (const line of secretLines) maskMultiline(line.slice(line.indexOf("=") + 1));
  const registryAuth = input(INPUT.registryAuth) ?? "";
  return {
    secrets: [
      ...secretLines.map((line) => secretFromValueLine(line, `input ${INPUT.secrets}`)),
      ...lines(INPUT.secretFiles).map((line) => secretFromFileLine(line, `input ${INPUT.secretFiles}`)),
      ...lines(INPUT.secretEnvs).map((line) => secretFromEnvLine(line, `input ${INPUT.secretEnvs}`)),
    ],
    ssh: lines(INPUT.ssh),
    registryAuth: parseRegistryAuth(registryAuth, `input ${INPUT.registryAuth}`, maskMultiline),
    useDockerConfig: parseBoolean(input(INPUT.dockerConfig), `input ${INPUT.dockerConfig}`, true),
    outputs: lines(INPUT.outputs),
    image: {
      tags: lines(INPUT.tags),
      push: flag(INPUT.push),
      pushByDigest: flag(INPUT.pushByDigest),
      ociMediatypes: input(INPUT.ociMediatypes),
      compression: input(INPUT.compression),
      annotations: lines(INPUT.annotations),
      provenance: input(INPUT.provenance),
      sbom: input(INPUT.sbom),
    },
  };
}

/** How several runners are chosen from, and how the action's own runner is fetched. */
export function readPoolInputs(): {
  strictPlatforms: boolean;
  releaseUrl?: string;
  sha256?: string;
  githubToken?: string;
} {
  const sha256 = input(INPUT.buildkitSha256)?.toLowerCase();
  if (sha256 !== undefined && !/^[a-f0-9]{64}$/.test(sha256)) {
    throw new InputError(`input ${INPUT.buildkitSha256} is not a sha256 of 64 hex digits.`);
  }
  return {
    strictPlatforms: parseBoolean(input(INPUT.strictPlatforms), `input ${INPUT.strictPlatforms}`, false),
    releaseUrl: input(INPUT.buildkitReleaseUrl),
    sha256,
    githubToken: input(INPUT.githubToken),
  };
}

export interface ArtifactInputs {
  upload: boolean;
  name: string;
  retentionDays?: number;
}

/**
 * Whether and how local and tar outputs become an artifact. The default name is the job's id and
 * run attempt; matrix legs share both, so they need artifact-name set apiece.
 */
export function readArtifactInputs(): ArtifactInputs {
  const retention = input(INPUT.artifactRetentionDays);
  if (retention !== undefined && !/^\d+$/.test(retention)) {
    throw new InputError(
      `input ${INPUT.artifactRetentionDays} is "${retention}"; give a number of days from 1 to 90.`,
    );
  }
  return {
    upload: parseBoolean(input(INPUT.uploadArtifact), `input ${INPUT.uploadArtifact}`, true),
    name:
      input(INPUT.artifactName) ??
      `${process.env.GITHUB_JOB || "build"}-outputs-${process.env.GITHUB_RUN_ATTEMPT || "1"}`,
    retentionDays: retention === undefined ? undefined : Number(retention),
  };
}

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
