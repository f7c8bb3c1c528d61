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
  type Endpoint,
  type SshOptions,
} from "../buildkit/index.js";
import { InputError } from "../errors.js";
import { cacheSecrets } from "./cache.js";
import { loadRegistryCredentials } from "../credentials/docker-config.js";
import { dockerEngine } from "../outputs/docker-engine.js";
import { prepareDestinations, type EngineLoad, type Exporter } from "../outputs/exporters.js";
import { Redactor } from "../report/redact.js";
import { SETUP_BUILDX_FLAGS, splitShellWords, type StartedRunnerConfig } from "../runner/daemon/config.js";
import type { Reporter } from "../report/reporter.js";
import type { RunnerInputNames, RunnerOptions } from "../runner/options.js";
import { imageAttrs, planImage, type ImagePlan } from "./image.js";
import type { ReadInputs } from "./inputs/read.js";
import { INPUTS } from "./inputs/table.js";
import { gitAuthSecrets } from "./git-context.js";
import { localVcs } from "./local-git.js";
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
  /** The load into the job's Docker Engine (`load`), and what it loaded once the build is done. */
  engineLoad?: EngineLoad;
}

export interface RequestContext {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Where a warning about the inputs goes; none: nowhere (the tests' plans). */
  reporter?: Pick<Reporter, "warning">;
  /** The platform's masking of one secret value. */
  mask: (value: string) => void;
}

/**
 * The request with provenance's vcs attrs when its context is a local dir in a Git checkout, as
 * buildx records them (local-git.ts).
 */
export async function withLocalVcs(request: BuildRequest, env: NodeJS.ProcessEnv): Promise<BuildRequest> {
  const { plan } = request;
  if (plan.git) return request;
  const vcs = await localVcs({ context: plan.contextDir, dockerfile: plan.dockerfileDir }, env);
  return vcs ? { ...request, plan: { ...plan, vcs } } : request;
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
  // The job's token for the job's Git host, when a Git URL of the build is there; the user's own
  // secret of that id wins.
  const gitUrls = [
    ...(plan.git ? [plan.git.url] : []),
    ...plan.namedContexts.flatMap((named) => (named.kind === "source" ? [named.source] : [])),
  ];
  const gitSecrets = gitAuthSecrets(gitUrls, {
    env: context.env,
    githubToken: inputs.githubToken,
    given: new Set(secrets.keys()),
  });
  for (const value of gitSecrets.values()) onSecret(value);
  const allSecrets = new Map([
    ...secrets,
    ...[...gitSecrets].map(([id, value]) => [id, new TextEncoder().encode(value)] as const),
  ]);
  for (const value of cacheSecrets([...inputs.cacheFrom, ...inputs.cacheTo])) onSecret(value);
  const engineLoad = inputs.load ? { engine: dockerEngine(context.env, names.load), loaded: [] } : undefined;
  const exporters = withAnnotations(
    withLoad(withImage(inputs.outputs, image), image, engineLoad),
    image.annotations,
  );
  const lookup = loadRegistryCredentials({
    explicit: inputs.registryAuth,
    useDockerConfig: inputs.dockerConfig,
    env: context.env,
    onSecret,
    // A build that pushes needs the credentials; one that does not may still pull with them.
    onUnreadableConfig: pushes(exporters, image.push)
      ? undefined
      : (message) => context.reporter?.warning(message),
  });
  prepareDestinations(exporters, names.outputs);
  return {
    plan,
    image,
    exporters,
    // attests names a type: it wins over the provenance or sbom input, as in build-push-action.
    attestations: {
      provenance:
        inputs.attests.provenance !== undefined
          ? (inputs.attests.provenance ?? undefined)
          : inputs.provenance,
      sbom: inputs.attests.sbom !== undefined ? (inputs.attests.sbom ?? undefined) : inputs.sbom,
    },
    cache: { imports: inputs.cacheFrom, exports: inputs.cacheTo },
    session: {
      credentials: (host, signal) => lookup(host, signal),
      secrets: allSecrets,
      sshAgents: inputs.ssh,
      uploadCompression: inputs.uploadCompression,
    },
    newRedactor,
    engineLoad,
  };
}

/** buildx puts the annotations on every output that writes an image: image, oci and docker. */
function withAnnotations(exporters: Exporter[], annotations: Record<string, string>): Exporter[] {
  return exporters.map((exporter) =>
    exporter.type === "image" || exporter.type === "oci" || exporter.type === "docker"
      ? { ...exporter, attrs: { ...annotations, ...exporter.attrs } }
      : exporter,
  );
}

/** Whether some output pushes to a registry, which needs the registry's credentials. */
function pushes(exporters: Exporter[], pushInput: boolean): boolean {
  return exporters.some((exporter) => exporter.type === "image" && (exporter.push ?? pushInput));
}

/** `load`: the docker exporter into the job's engine, with the image's names, next to the other outputs. */
function withLoad(exporters: Exporter[], image: ImagePlan, load: EngineLoad | undefined): Exporter[] {
  if (!load) return exporters;
  // As buildx's --load: the tags' image is loaded, not also kept on the runner unless it is pushed.
  const kept = exporters.filter(
    (each) => !(each.type === "image" && !each.push && each.names === image.names),
  );
  return [...kept, { type: "load", names: image.names, load }];
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

/**
 * How to reach the runner: a runner list or buildx builder (each runner with its own TLS), else
 * the endpoints given (else buildctl's default socket) with one set of TLS material; and the pin.
 */
export function runnerOptions(read: ReadInputs): RunnerOptions {
  const { values: inputs, sources } = read;
  const configured = configuredRunners(read);
  if (configured) {
    return {
      endpoint: configured.runners[0]!.endpoint,
      endpoints: configured.runners.map((runner) => runner.endpoint),
      endpointGiven: true,
      tls: {},
      configured,
      connectTimeoutMs: inputs.connectTimeoutMs,
      allowPlaintext: inputs.allowPlaintext,
      versionPin: inputs.buildkitVersion,
      onVersionMismatch: inputs.versionMismatch,
    };
  }
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
    ssh: sshOptions(read, endpoints),
    connectTimeoutMs: inputs.connectTimeoutMs,
    allowPlaintext: inputs.allowPlaintext,
    versionPin: inputs.buildkitVersion,
    onVersionMismatch: inputs.versionMismatch,
  };
}

/** The key and known hosts for ssh:// endpoints; refused when no endpoint is one. */
function sshOptions(read: ReadInputs, endpoints: Endpoint[]): SshOptions | undefined {
  const { values: inputs, names } = read;
  if (inputs.sshKey === undefined && inputs.sshKnownHosts === undefined) return undefined;
  if (!endpoints.some((endpoint) => endpoint.kind === "ssh")) {
    const given = inputs.sshKey !== undefined ? names.sshKey : names.sshKnownHosts;
    throw new InputError(`${given} is for ssh:// endpoints, and ${names.endpoint} names none.`);
  }
  return { ...inputs.sshKey, ...inputs.sshKnownHosts };
}

/**
 * The runner list, else the builder named, else buildx's current remote builder when no endpoint
 * is given at all. A list or a builder with an endpoint or TLS input as well is ambiguous: refused.
 */
function configuredRunners({ values: inputs, names, sources }: ReadInputs): RunnerOptions["configured"] {
  const simple = (["endpoint", "tlsCaCert", "tlsCert", "tlsKey", "tlsServerName", "tlsDir"] as const).filter(
    (field) => sources[field] !== "default",
  );
  const described = [
    inputs.runners && { runners: inputs.runners, from: names.runners },
    inputs.builder.name !== undefined && { runners: [], from: names.builder },
  ].filter((each) => !!each);
  if (described.length > 1) {
    throw new InputError(
      `Both ${names.runners} and ${names.builder} describe the runners; give only one of them.`,
    );
  }
  if (described.length === 1 && simple.length > 0) {
    throw new InputError(
      `${capitalise(described[0]!.from)} describes the runners, each with its own endpoint and TLS material; leave out ${simple.map((field) => names[field]).join(", ")}.`,
    );
  }
  if (inputs.runners) return { runners: inputs.runners, from: names.runners };
  if (simple.length > 0) return undefined;
  const builder = inputs.builder.read();
  return builder && { runners: builder.runners, from: `buildx builder "${builder.name}"` };
}

function capitalise(text: string): string {
  return text[0]!.toUpperCase() + text.slice(1);
}

export function runnerInputNames({ names }: ReadInputs): RunnerInputNames {
  return {
    endpoint: names.endpoint,
    endpointEnv: INPUTS.endpoint.env?.name ?? "BUILDKIT_HOST",
    tls: { caCert: names.tlsCaCert, cert: names.tlsCert, key: names.tlsKey },
    connectTimeout: names.connectTimeoutMs,
    allowPlaintext: names.allowPlaintext,
    buildkitVersion: names.buildkitVersion,
    versionMismatch: names.versionMismatch,
  };
}

/**
 * The runner we start when no endpoint is given: its buildkitd.toml (a file or inline, not both)
 * and its flags. Refused beside an endpoint, which names a runner that is running already.
 */
export function startedRunnerConfig(read: ReadInputs): StartedRunnerConfig {
  const { values: inputs, names } = read;
  if (inputs.buildkitdConfig !== undefined && inputs.buildkitdConfigInline !== undefined) {
    throw new InputError(
      `${names.buildkitdConfig} and ${names.buildkitdConfigInline} are both given; give one of them.`,
    );
  }
  const toml = inputs.buildkitdConfig ?? inputs.buildkitdConfigInline;
  const flags = inputs.buildkitdFlags;
  const defaultFlags = splitShellWords(SETUP_BUILDX_FLAGS, names.buildkitdFlags);
  const customFlags = flags.join("\0") !== defaultFlags.join("\0");
  const given = [
    ...(inputs.buildkitdConfig !== undefined ? [names.buildkitdConfig] : []),
    ...(inputs.buildkitdConfigInline !== undefined ? [names.buildkitdConfigInline] : []),
    ...(customFlags ? [names.buildkitdFlags] : []),
  ];
  if (given.length > 0 && inputs.endpoint.length > 0) {
    const endpoint = read.sources.endpoint === "env" ? "BUILDKIT_HOST is set" : `${names.endpoint} is given`;
    throw new InputError(
      `${given.join(" and ")} configure${given.length === 1 ? "s" : ""} the runner started when no endpoint is given, ` +
        `and ${endpoint}; leave ${given.length === 1 ? "it" : "them"} out or the endpoint.`,
    );
  }
  return {
    toml,
    flags,
    inputs: [
      toml === undefined ? undefined : given[0],
      customFlags ? names.buildkitdFlags : `${names.buildkitdFlags} (default)`,
    ]
      .filter(Boolean)
      .join(" and "),
    custom: given.length > 0,
  };
}
