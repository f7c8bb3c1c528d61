// The typed request of a job, built from the inputs and checked before anything starts on the
// runner: how to reach the runner, the plan, the image, the exporters and attestations, and what
// the session serves (secrets, SSH agents, registry credentials, read into memory now). Every
// secret value goes to the platform's masking and into every log redactor the job makes.
import {
  DEFAULT_ENDPOINT,
  loadTlsMaterial,
  parseEndpoint,
  type CredentialLookup,
  type UploadCompressionMode,
} from "../buildkit/index.js";
import { loadRegistryCredentials } from "../credentials/docker-config.js";
import { prepareDestinations, type Exporter } from "../outputs/exporters.js";
import { Redactor } from "../report/redact.js";
import type { RunnerInputNames, RunnerOptions } from "../runner/options.js";
import { imageAttrs, planImage, type ImagePlan } from "./image.js";
import type { ReadInputs } from "./inputs/read.js";
import { planBuild } from "./plan.js";
import { readSecrets } from "./secrets.js";
import type { TypedBuild } from "./solve-request.js";

export interface BuildRequest extends TypedBuild {
  image: ImagePlan;
  session: {
    /** Registry credentials for the host the runner asks about. */
    credentials: CredentialLookup;
    secrets: ReadonlyMap<string, Uint8Array>;
    /** SSH agent sockets by id. */
    sshAgents: ReadonlyMap<string, string>;
    uploadCompression: UploadCompressionMode;
  };
  /** A log redactor that knows every secret of the job, for each build that runs at once. */
  newRedactor: () => Redactor;
}

export interface RequestContext {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The platform's masking of one secret value. */
  mask: (value: string) => void;
}

export function prepareBuild(read: ReadInputs, context: RequestContext): BuildRequest {
  const { values: inputs, names } = read;
  // Every redactor made for this job learns every secret, also those found during the build.
  const secretValues: string[] = [];
  const redactors: Redactor[] = [];
  const newRedactor = () => {
    const redactor = new Redactor(secretValues);
    redactors.push(redactor);
    return redactor;
  };
  const onSecret = (value: string) => {
    context.mask(value);
    secretValues.push(value);
    for (const redactor of redactors) redactor.add(value);
  };
  const plan = planBuild(inputs, names, context.cwd);
  const image = planImage(
    {
      names: inputs.tags,
      push: inputs.push,
      pushByDigest: inputs.pushByDigest,
      ociMediatypes: inputs.ociMediatypes,
      compression: inputs.compression,
      annotations: inputs.annotations,
    },
    names,
  );
  const secrets = readSecrets(
    [...inputs.secrets, ...inputs.secretFiles, ...inputs.secretEnvs],
    { file: names.secretFiles, env: names.secretEnvs },
    { cwd: context.cwd, env: context.env, onSecret },
  );
  const lookup = loadRegistryCredentials({
    explicit: inputs.registryAuth,
    useDockerConfig: inputs.dockerConfig,
    env: context.env,
    onSecret,
  });
  const exporters = withImage(inputs.outputs, image);
  prepareDestinations(exporters, names.outputs);
  return {
    plan,
    image,
    exporters,
    attestations: { provenance: inputs.provenance, sbom: inputs.sbom },
    session: {
      credentials: (host, signal) => lookup(host, signal),
      secrets,
      sshAgents: inputs.ssh,
      uploadCompression: inputs.uploadCompression,
    },
    newRedactor,
  };
}

/**
 * The image of the tags, as buildx does it: the tags name an image output given without a name,
 * else they are an image output of their own, first.
 */
function withImage(outputs: Exporter[], image: ImagePlan): Exporter[] {
  if (image.names.length === 0) return outputs;
  const own = {
    names: image.names,
    push: image.push,
    pushByDigest: image.pushByDigest,
    attrs: imageAttrs(image),
  };
  const unnamed = outputs.findIndex((output) => output.type === "image" && output.names.length === 0);
  if (unnamed < 0) return [{ type: "image", ...own }, ...outputs];
  const output = outputs[unnamed] as Extract<Exporter, { type: "image" }>;
  const merged: Exporter = {
    type: "image",
    names: own.names,
    push: output.push ?? own.push,
    pushByDigest: output.pushByDigest ?? own.pushByDigest,
    attrs: { ...own.attrs, ...output.attrs },
  };
  return outputs.map((each, index) => (index === unnamed ? merged : each));
}

/** How to reach the runner: the endpoints given (else buildctl's default socket), TLS and the pin. */
export function runnerOptions(read: ReadInputs): RunnerOptions {
  const { values: inputs, sources } = read;
  const endpoints = inputs.endpoint.length > 0 ? inputs.endpoint : [parseEndpoint(DEFAULT_ENDPOINT)];
  // buildctl's order: a flag, then the file in --tlsdir, then the environment variable.
  const dir = inputs.tlsDir ?? {};
  const piece = (given: string | undefined, source: string, fromDir: string | undefined) =>
    source === "given" ? given : (fromDir ?? given);
  return {
    endpoint: endpoints[0]!,
    endpoints,
    endpointGiven: inputs.endpoint.length > 0,
    tls: loadTlsMaterial(
      {
        caCert: piece(inputs.tlsCaCert, sources.tlsCaCert, dir.caCert),
        cert: piece(inputs.tlsCert, sources.tlsCert, dir.cert),
        key: piece(inputs.tlsKey, sources.tlsKey, dir.key),
        serverName: inputs.tlsServerName,
      },
      runnerInputNames(read).tls,
    ),
    connectTimeoutMs: inputs.connectTimeoutMs,
    allowPlaintext: inputs.allowPlaintext,
    versionPin: inputs.buildkitVersion,
    onVersionMismatch: inputs.versionMismatch,
  };
}

export function runnerInputNames({ names }: ReadInputs): RunnerInputNames {
  return {
    endpoint: names.endpoint,
    tls: { caCert: names.tlsCaCert, cert: names.tlsCert, key: names.tlsKey },
    connectTimeout: names.connectTimeoutMs,
    allowPlaintext: names.allowPlaintext,
    buildkitVersion: names.buildkitVersion,
    versionMismatch: names.versionMismatch,
  };
}
