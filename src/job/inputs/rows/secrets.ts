// The input table's rows for what the build may read from the job: secrets, SSH agents and
// registry credentials. Secret values are masked the moment they are read.
import { parseRegistryAuth, readRegistryAuthFile } from "../../../credentials/registry-auth.js";
import {
  readSshAgents,
  secretFromBuildxSpec,
  secretFromEnvLine,
  secretFromFileLine,
  secretFromValueLine,
} from "../../secrets.js";
import { BUILD, list, text, toggle } from "../row.js";

export const SECRET_INPUTS = {
  secrets: list({
    action: "secrets",
    cli: {
      flag: "secret",
      value: "id=ID,src=PATH",
      commands: BUILD,
      section: "secrets",
      help: ["a build secret from a file, or id=ID,env=NAME from a variable"],
    },
    // The action takes ID=VALUE lines; the CLI buildx's specs, which never put a value in argv.
    parse: {
      action: (items, { name, mask }) => {
        for (const line of items) mask(line.slice(line.indexOf("=") + 1));
        return items.map((line) => secretFromValueLine(line, name));
      },
      cli: (items, { name }) => items.map((spec) => secretFromBuildxSpec(spec, name)),
    },
  }),
  secretFiles: list({
    action: "secret-files",
    cliName: "--secret",
    parse: (items, { name }) => items.map((line) => secretFromFileLine(line, name)),
  }),
  secretEnvs: list({
    action: "secret-envs",
    cliName: "--secret",
    parse: (items, { name }) => items.map((line) => secretFromEnvLine(line, name)),
  }),
  ssh: list({
    action: "ssh",
    cli: {
      flag: "ssh",
      value: "default|ID=SOCKET",
      commands: BUILD,
      section: "secrets",
      help: ["forward an SSH agent (default: the one at SSH_AUTH_SOCK)"],
    },
    separator: /\s+/,
    parse: (items, { name, cwd, env }) => readSshAgents(items, name, { cwd, env }),
  }),
  registryAuth: text({
    action: "registry-auth",
    cli: {
      flag: "registry-auth-file",
      value: "PATH",
      commands: BUILD,
      section: "secrets",
      help: [
        "REGISTRY=USERNAME:PASSWORD lines ($BUILDKIT_REGISTRY_AUTH takes",
        "the same text); the docker config is read as well",
      ],
    },
    env: { name: "BUILDKIT_REGISTRY_AUTH", adapters: ["cli"] },
    // The action takes the lines themselves; the CLI a file of them (or the variable), so that
    // no password is ever on a command line.
    parse: {
      action: (value, { name, mask }) => parseRegistryAuth(value ?? "", name, mask),
      cli: (value, { name, source, mask }) =>
        value === undefined
          ? []
          : source === "env"
            ? parseRegistryAuth(value, name, mask)
            : readRegistryAuthFile(value, name, mask),
    },
  }),
  dockerConfig: toggle({
    action: "docker-config",
    cli: {
      flag: "no-docker-config",
      commands: BUILD,
      section: "secrets",
      help: ["do not read the docker config (DOCKER_CONFIG or ~/.docker)", "and its credential helpers"],
    },
    default: "true",
    // The action's input says whether to read the docker config; the CLI's flag, whether not to.
    parse: { action: (read) => read, cli: (skip) => !skip },
  }),
};
