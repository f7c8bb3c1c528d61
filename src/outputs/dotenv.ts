// The step outputs as a dotenv file, which GitLab reads as `artifacts: reports: dotenv:` and gives
// to later jobs as variables: one NAME=value line each, the output's name upper-cased with
// underscores (DIGEST, IMAGEID, BUILDKIT_VERSION, RUNNER_REASON...). GitLab takes single-line,
// unquoted values in a file of at most 5 KB, so `metadata` (buildx's metadata file, --metadata-file
// writes it) and empty outputs are left out.
import { writeFileSync } from "node:fs";
import { InputError } from "../errors.js";

const LEFT_OUT = new Set(["metadata"]);

/** NAME=value lines for the outputs, in the order they were set. */
export function dotenvText(outputs: Readonly<Record<string, string>>): string {
  return Object.entries(outputs)
    .filter(([name, value]) => !LEFT_OUT.has(name) && value !== "")
    .map(([name, value]) => `${name.toUpperCase().replace(/-/g, "_")}=${value.replace(/[\r\n]+/g, " ")}\n`)
    .join("");
}

export function writeDotenvFile(path: string, name: string, outputs: Readonly<Record<string, string>>): void {
  try {
    writeFileSync(path, dotenvText(outputs));
  } catch (error) {
    throw new InputError(`${name} "${path}" cannot be written (${(error as NodeJS.ErrnoException).code}).`);
  }
}
