// Registry credentials given as text, one `REGISTRY=USERNAME:PASSWORD` per line: the action's
// `registry-auth` input, and the CLI's BUILDKIT_REGISTRY_AUTH variable or --registry-auth-file,
// so that a password never has to be on a command line.
import { readFileSync } from "node:fs";
import { InputError } from "../errors.js";
import type { ExplicitCredential } from "./docker-config.js";

export function parseRegistryAuth(
  text: string,
  name: string,
  onSecret: (value: string) => void,
): ExplicitCredential[] {
  const credentials: ExplicitCredential[] = [];
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const equals = line.indexOf("=");
    const colon = line.indexOf(":", equals + 1);
    // The password is masked first, before anything about the line is said.
    if (colon > equals) onSecret(line.slice(colon + 1));
    if (equals <= 0 || colon < 0 || colon === line.length - 1) {
      throw new InputError(`Line ${index + 1} of ${name} is not REGISTRY=USERNAME:PASSWORD.`);
    }
    credentials.push({
      registry: line.slice(0, equals).trim(),
      username: line.slice(equals + 1, colon),
      password: line.slice(colon + 1),
    });
  }
  return credentials;
}

/** A file of such lines (the CLI's --registry-auth-file); `name` is the flag. */
export function readRegistryAuthFile(
  file: string,
  name: string,
  onSecret: (value: string) => void,
): ExplicitCredential[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new InputError(`${name} "${file}" cannot be read (${(error as NodeJS.ErrnoException).code}).`);
  }
  return parseRegistryAuth(text, `${name} "${file}"`, onSecret);
}
