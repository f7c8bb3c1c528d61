// Everything a build takes from the job besides the plan, read and checked before anything
// starts on the runner: secrets, SSH agents, registry credentials and the image to export.
// Every secret value goes to `onSecret` (the adapter masks it) and into the log's redactor.
import { loadRegistryCredentials, type ExplicitCredential } from "../credentials/docker-config.js";
import { Redactor } from "../report/redact.js";
import { parseImagePlan, type ImageInputNames, type ImageInputs, type ImagePlan } from "./image.js";
import type { BuildOptions } from "./run.js";
import { readSecrets, readSshAgents, type SecretSource } from "./secrets.js";

export interface JobInputs {
  secrets: SecretSource[];
  ssh: string[];
  registryAuth: ExplicitCredential[];
  useDockerConfig: boolean;
  image: ImageInputs;
}

export interface JobInputNames extends ImageInputNames {
  secretFiles: string;
  secretEnvs: string;
  ssh: string;
}

export interface PreparedJob {
  image: ImagePlan;
  buildOptions: Pick<
    BuildOptions,
    "credentials" | "secrets" | "sshAgents" | "redactor" | "exporters" | "frontendAttrs"
  >;
}

export function prepareJob(
  inputs: JobInputs,
  names: JobInputNames,
  context: { cwd: string; env: NodeJS.ProcessEnv; onSecret: (value: string) => void },
): PreparedJob {
  const redactor = new Redactor();
  const onSecret = (value: string) => {
    context.onSecret(value);
    redactor.add(value);
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
  return {
    image,
    buildOptions: {
      credentials: (host, signal) => lookup(host, signal),
      secrets,
      sshAgents,
      redactor,
      exporters: image.exporterAttrs ? [{ type: "image", attrs: image.exporterAttrs }] : [],
      frontendAttrs: image.attestationAttrs,
    },
  };
}
