// The value parsers every input goes through: lists (one per line or flag, comma-separated where
// an input takes that), KEY=VALUE, durations, sizes, booleans and platforms. Each error is one
// sentence that names the input as the user knows it (`input platforms`, `--platform`).
import { formatPlatform, normalizePlatform, type Platform } from "./buildkit/index.js";
import { InputError } from "./errors.js";

/** Text with something in it, trimmed; empty text is no value. */
export function nonEmpty(value: string | undefined): string | undefined {
  return value?.trim() || undefined;
}

/**
 * One of a few words, in any case, trimmed; anything else is refused naming all of them. `why`
 * may add a clause to that sentence.
 */
export function parseChoice<const Choices extends readonly string[]>(
  value: string,
  name: string,
  choices: Choices,
  why = "",
): Choices[number] {
  const word = value.trim().toLowerCase();
  if ((choices as readonly string[]).includes(word)) return word;
  const listed = choices.length > 1 ? `${choices.slice(0, -1).join(", ")} or ${choices.at(-1)}` : choices[0];
  throw new InputError(`${name} is "${value}"; use ${listed}${why && ` ${why}`}.`);
}

/**
 * The items of a list given one per line (the action), repeated (the CLI), or both, each split
 * further on `separator` where the input takes that (commas, say); trimmed, empty ones dropped.
 */
export function listItems(values: readonly string[], separator?: RegExp | string): string[] {
  return values
    .flatMap((value) => (separator === undefined ? [value] : value.split(separator)))
    .map((value) => value.trim())
    .filter(Boolean);
}

/** KEY=VALUE: the key trimmed and the value as written (it may hold "="); no value without "=". */
export function splitKeyValue(text: string): [key: string, value: string | undefined] {
  const equals = text.indexOf("=");
  return equals < 0 ? [text.trim(), undefined] : [text.slice(0, equals).trim(), text.slice(equals + 1)];
}

/**
 * NAME=value pairs. A bare NAME takes its value from `env`, as docker buildx does for build args;
 * without `env`, or where that is not possible, the sentence says why.
 */
export function parseKeyValues(
  items: readonly string[],
  name: string,
  env?: NodeJS.ProcessEnv,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const item of items) {
    const [key, value] = splitKeyValue(item);
    if (key === "") throw new InputError(`${name} "${item}" has no name; write it as NAME=value.`);
    if (value !== undefined) {
      result[key] = value;
    } else if (env && env[key] !== undefined) {
      result[key] = env[key]!;
    } else {
      throw new InputError(
        env
          ? `${name} "${item}" has no "=" and no environment variable ${key} is set; write it as ${key}=value.`
          : `${name} "${item}" has no "="; write it as ${key}=value.`,
      );
    }
  }
  return result;
}

/**
 * "30s", "1500ms", "2m", "1h": a positive duration, as milliseconds. A bare number is refused: 10
 * could be meant as seconds or milliseconds (or minutes, like GitHub's timeout-minutes), and a
 * guess would fail far from the cause.
 */
export function parseDuration(value: string, name: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  const amount = match ? Number(match[1]) : NaN;
  if (!match || !(amount > 0)) {
    throw new InputError(`${name} is "${value}"; give a positive duration such as 30s, 1500ms, 2m or 1h.`);
  }
  const unit = match[2];
  if (unit === undefined) {
    throw new InputError(
      `${name} is "${value}", a number without a unit; write ${match[1]}s, ${match[1]}ms or ${match[1]}m.`,
    );
  }
  return Math.round(amount * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as "ms" | "s" | "m" | "h"]);
}

/** A duration in the largest unit that writes it whole, as a user gives it: 5s, 2m, 1h, 1500ms. */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** A whole number, zero or more: "0", "3". */
export function parseCount(value: string, name: string): number {
  const text = value.trim();
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new InputError(`${name} is "${value}"; give a whole number, 0 or more.`);
  }
  return Number(text);
}

const SIZE = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i;

/** Sizes as docker reads them (64m, 1g, 512MiB): binary multiples, a bare number is bytes. */
export function parseByteSize(value: string, name: string): number {
  const match = SIZE.exec(value);
  if (!match) throw new InputError(`${name} "${value}" is not a size; write it as 64m or 1g.`);
  const power = " kmgtp".indexOf((match[2] ?? " ").toLowerCase());
  return Math.floor(Number(match[1]) * 1024 ** power);
}

/**
 * true/True/TRUE and false/False/FALSE, as actions/toolkit's getBooleanInput reads them (YAML
 * 1.2's core schema), and 1/0 as environment variables often say it. Empty is the fallback.
 */
export function parseBoolean(value: string | undefined, name: string, fallback: boolean): boolean {
  const text = value?.trim();
  if (text === undefined || text === "") return fallback;
  if (["true", "True", "TRUE", "1"].includes(text)) return true;
  if (["false", "False", "FALSE", "0"].includes(text)) return false;
  throw new InputError(`${name} is "${value}"; use true or false.`);
}

const PLATFORM = /^([a-z0-9_-]+)\/([a-z0-9_-]+)(\/[a-z0-9_.-]+)?$/i;
// Go's operating systems and architectures, and the aliases containerd normalizes: a platform
// outside these would reach the runner only to fail there, or worse, build for nothing.
const KNOWN_OS = new Set(
  "aix android darwin dragonfly freebsd illumos ios js linux netbsd openbsd plan9 solaris wasip1 windows".split(
    " ",
  ),
);
const KNOWN_ARCH = new Set(
  "386 amd64 arm arm64 loong64 mips mips64 mips64le mipsle ppc64 ppc64le riscv64 s390x wasm x86_64 x86-64 aarch64 armhf armel i386".split(
    " ",
  ),
);

/** Platforms (os/arch[/variant]), checked and normalized as BuildKit compares them, without repeats. */
export function parsePlatforms(items: readonly string[], name: string): Platform[] {
  const platforms: Platform[] = [];
  for (const item of items) {
    const match = PLATFORM.exec(item);
    if (!match) {
      throw new InputError(
        `${name} "${item}" is not a platform; write it as os/arch[/variant], such as linux/arm64.`,
      );
    }
    const os = match[1]!.toLowerCase();
    const architecture = match[2]!.toLowerCase();
    if (!KNOWN_OS.has(os))
      throw new InputError(`${name} "${item}" names an unknown operating system "${os}".`);
    if (!KNOWN_ARCH.has(architecture)) {
      throw new InputError(`${name} "${item}" names an unknown architecture "${architecture}".`);
    }
    const platform = normalizePlatform({ os, architecture, variant: match[3]?.slice(1) });
    if (!platforms.some((known) => formatPlatform(known) === formatPlatform(platform)))
      platforms.push(platform);
  }
  return platforms;
}
