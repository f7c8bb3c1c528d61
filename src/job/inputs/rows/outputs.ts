// The input table's rows for the outputs brought back to the job's machine, and the artifact
// they become.
import { nonEmpty } from "../../../values.js";
import { InputError } from "../../../errors.js";
import { parseOutputs } from "../../../outputs/exporters.js";
import { BUILD, list, text, toggle } from "../row.js";

export const OUTPUT_INPUTS = {
  outputs: list({
    action: "outputs",
    cli: {
      flag: "output",
      short: "o",
      value: "SPEC",
      commands: BUILD,
      section: "outputs",
      help: [
        "type=local,dest=DIR | type=tar,dest=FILE | type=oci,dest=FILE |",
        "type=docker,dest=FILE | type=image,name=REF[,push=true] |",
        "type=registry,name=REF; a bare DIR is type=local,dest=DIR",
      ],
    },
    parse: (items, { name, cwd }) => parseOutputs(items, name, cwd),
  }),
  load: toggle({
    action: "load",
    cli: {
      flag: "load",
      commands: BUILD,
      section: "outputs",
      help: ["load the image into the Docker Engine here", "(DOCKER_HOST or /var/run/docker.sock)"],
    },
    default: "false",
  }),
  uploadArtifact: toggle({ action: "upload-artifact", default: "true" }),
  // The job summary as an input (build-push-action has only DOCKER_BUILD_SUMMARY, its #1199).
  summary: toggle({ action: "summary", default: "true" }),
  // The job's id and run attempt by default; matrix legs share both, so they need a name apiece.
  artifactName: text({
    action: "artifact-name",
    parse: (value, { env }) =>
      nonEmpty(value) ?? `${env.GITHUB_JOB || "build"}-outputs-${env.GITHUB_RUN_ATTEMPT || "1"}`,
  }),
  artifactRetentionDays: text({
    action: "artifact-retention-days",
    parse: (value, { name }) => {
      const retention = nonEmpty(value);
      if (retention !== undefined && !/^\d+$/.test(retention)) {
        throw new InputError(`${name} is "${retention}"; give a number of days from 1 to 90.`);
      }
      return retention === undefined ? undefined : Number(retention);
    },
  }),
  // GitLab's reports: the CLI writes them where `artifacts: reports:` picks them up.
  outputsDotenv: text({
    cli: {
      flag: "outputs-dotenv",
      value: "FILE",
      commands: BUILD,
      section: "outputs",
      help: ["write the step outputs as NAME=value lines", "(GitLab's dotenv report)"],
    },
    parse: nonEmpty,
  }),
  codeQuality: text({
    cli: {
      flag: "code-quality",
      value: "FILE",
      commands: BUILD,
      section: "outputs",
      help: ["write BuildKit's warnings (Dockerfile checks) as a GitLab", "Code Quality report"],
    },
    parse: nonEmpty,
  }),
};
