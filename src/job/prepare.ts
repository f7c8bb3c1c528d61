// Everything a build takes from the job besides the plan, read and checked before anything
// starts on the runner: secrets, SSH agents, registry credentials and the image to export.
// Every secret value goes to `onSecret` (the adapter masks it) and into the log's redactor.
import { loadRegistryCredentials, type ExplicitCredential } from "../credentials/docker-config.js";
import { Redactor } from "../report/redact.js";
import { parseImagePlan, type ImageInputNames, type ImageInputs, type ImagePlan } from "./image.js";
import type { BuildOptions } from "./run.js";
import { readSecrets, readSshAgents, type SecretSource } from "./secrets.js";
import { parseOutputs, prepareDestinations } from "../outputs/exporters.js";
import type { FileSendTarget } from "../buildkit/session/filesend.js";

export interface JobInputs {
  secrets: SecretSource[];
  ssh: string[];
  registryAuth: ExplicitCredential[];
  useDockerConfig: boolean;
  image: ImageInputs;
  /** buildx output specs: type=local,dest=DIR and the like. */
  outputs: string[];
}

export interface JobInputNames extends ImageInputNames {
  secretFiles: string;
  secretEnvs: string;
  ssh: string;
  outputs: string;
}

export interface PreparedJob {
  image: ImagePlan;
  /** What the runner sends back, in exporter order; undefined for exporters that send nothing. */
  outputTargets: Array<FileSendTarget | undefined>;
  /** A log redactor that knows every secret of the job, for each build that runs at once. */
  newRedactor: () => Redactor;
  buildOptions: Pick<
    BuildOptions,
    "credentials" | "secrets" | "sshAgents" | "redactor" | "exporters" | "outputTargets" | "frontendAttrs"
  >;
}

export function prepareJob(
  inputs: JobInputs,
  names: JobInputNames,
  context: { cwd: string; env: NodeJS.ProcessEnv; onSecret: (value: string) => void },
): PreparedJob {
  // Every redactor made for this job learns every secret, also those found during the build.
  const secretValues: string[] = [];
  const redactors: Redactor[] = [];
  const newRedactor = () => {
    const redactor = new Redactor(secretValues);
    redactors.push(redactor);
    return redactor;
  };
  const onSecret = (value: string) => {
    context.onSecret(value);
    secretValues.push(value);
    for (const redactor of redactors) redactor.add(value);
  };
  const secrets = readSecrets(
    inputs.secrets,
    { file: names.secretFiles, env: names.secretEnvs },
    { ...context, onSecret },
  );
  const sshAgents = readSshAgents(inputs.ssh, names.ssh, context);
  const lookup = loadRegistryCredentials({
    explicit: inputs.registryAuth,
    useDockerConfig: inputs.useDockerConfig,
    env: context.env,
    onSecret,
  });
  const image = parseImagePlan(inputs.image, names);
  const outputs = parseOutputs(inputs.outputs, names.outputs, context.cwd);
  // Tags name an image output given without a name, as buildx does; else they are one of their own.
  const unnamedImage = outputs.find(
    (output) => output.exporter.type === "image" && !output.exporter.attrs.name,
  );
  if (unnamedImage && image.exporterAttrs) {
    unnamedImage.exporter.attrs = { ...image.exporterAttrs, ...unnamedImage.exporter.attrs };
  } else if (image.exporterAttrs) {
    outputs.unshift({ exporter: { type: "image", attrs: image.exporterAttrs } });
  }
  prepareDestinations(outputs, names.outputs);
  const outputTargets = outputs.map((output) => output.target);
  return {
    image,
    outputTargets,
    newRedactor,
    buildOptions: {
      credentials: (host, signal) => lookup(host, signal),
      secrets,
      sshAgents,
      redactor: newRedactor(),
      exporters: outputs.map((output) => output.exporter),
      outputTargets,
      frontendAttrs: image.attestationAttrs,
    },
  };
}
