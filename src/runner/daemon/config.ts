// The started runner's own configuration, as setup-buildx's docker-container driver takes it: a
// buildkitd.toml (a file or inline text) and extra buildkitd flags. Checked before anything starts:
// the file is readable, the TOML parses, the flags split into words, and none of them takes over
// what we set ourselves (the socket we connect to, the state dir kept as the cache).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { InputError } from "../../errors.js";
import { loadToml } from "../../libraries.js";

/** What the runner we start is given beyond our own flags. */
export interface DaemonConfig {
  /** buildkitd.toml's text: written beside the socket and given as --config. */
  toml?: string;
  /** Extra flags, one word each. */
  flags: string[];
}

/** The runner we start, as the inputs configure it. */
export interface StartedRunnerConfig extends DaemonConfig {
  /** The inputs that configure it, as sentences name them. */
  inputs: string;
  /** True when it is not the default (setup-buildx's flags and no TOML). */
  custom: boolean;
}

/** setup-buildx's default buildkitd-flags: entitlements a build may then ask for with `allow`. */
export const SETUP_BUILDX_FLAGS =
  "--allow-insecure-entitlement security.insecure --allow-insecure-entitlement network.host";

/** The flags we set for the runner we start, and why a user's must not replace them. */
const OURS: Record<string, string> = {
  addr: "the socket we connect to",
  root: "the state dir kept as the build cache",
  "otel-socket-path": "a trace socket of its own, so that two runners on one machine do not race for it",
  group: "the socket's group",
  "oci-worker": "the OCI worker, the one it runs",
  "containerd-worker": "the OCI worker, the one it runs",
};

/** TOML text that parses; the sentence names the input and where the TOML goes wrong. */
export async function checkBuildkitdToml(text: string, name: string): Promise<string> {
  const { parse: parseToml, TomlError } = await loadToml();
  try {
    parseToml(text);
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    // smol-toml's message is its reason, then a code frame: the reason and the position suffice.
    const reason = error.message
      .split("\n")[0]!
      .replace(/^Invalid TOML document: /, "")
      .replace(/[.:]$/, "");
    throw new InputError(
      `${name} is not valid TOML: ${reason} (line ${error.line}, column ${error.column}).`,
    );
  }
  return text;
}

/** A buildkitd.toml named by a path (relative to cwd): read now, and its TOML checked. */
export async function readBuildkitdToml(path: string, name: string, cwd: string): Promise<string> {
  let text: string;
  try {
    text = readFileSync(resolve(cwd, path), "utf8");
  } catch (error) {
    throw new InputError(`${name} "${path}" cannot be read (${(error as NodeJS.ErrnoException).code}).`);
  }
  return checkBuildkitdToml(text, `${name} "${path}"`);
}

/**
 * Extra flags, split into words as a shell does (setup-buildx splits them so): blanks separate,
 * 'single' and "double" quotes group, a backslash escapes the next character.
 */
export function splitShellWords(text: string, name: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (quote === "'") {
      if (char === "'") quote = undefined;
      else word += char;
    } else if (
      char === "\\" &&
      index + 1 < text.length &&
      (quote === undefined || /["\\$`]/.test(text[index + 1]!))
    ) {
      word = (word ?? "") + text[++index];
    } else if (quote === '"') {
      if (char === '"') quote = undefined;
      else word += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      word ??= "";
    } else if (/\s/.test(char)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? "") + char;
    }
  }
  if (quote !== undefined) throw new InputError(`${name} has a ${quote} quote that is not closed.`);
  if (word !== undefined) words.push(word);
  return words;
}

/**
 * buildkitd flags for the runner we start: refused where they take over one of ours, and --config,
 * which has its own input (`configName`). What buildkitd itself does not know, it refuses at start.
 */
export function parseBuildkitdFlags(text: string, name: string, configName: string): string[] {
  const words = splitShellWords(text, name);
  for (const word of words) {
    // urfave/cli takes --flag, -flag and either with =value.
    const flag = /^--?([A-Za-z][\w-]*)(=|$)/.exec(word)?.[1]?.toLowerCase();
    if (flag === undefined) continue;
    if (flag === "config") {
      throw new InputError(`${name} gives --config; give the file as ${configName} instead.`);
    }
    const why = OURS[flag];
    if (why !== undefined) {
      throw new InputError(`${name} gives --${flag}, which is ours to set for the runner we start (${why}).`);
    }
  }
  return words;
}
