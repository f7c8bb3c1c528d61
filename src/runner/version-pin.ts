// The maintainers' pin on the runner's BuildKit version: an exact version or a semver range.
import semver from "semver";
import { InputError } from "../errors.js";
import { BUILDKIT_VERSION } from "../version.js";

export interface VersionPin {
  /** As the user wrote it, for messages. */
  text: string;
  range: string;
}

export function parseVersionPin(text: string, name: string): VersionPin {
  const range = semver.validRange(text.trim(), { loose: true });
  if (range === null) {
    throw new InputError(
      `${name} is "${text}", which is neither a version (v${BUILDKIT_VERSION}) nor a semver range (>=0.30 <0.33).`,
    );
  }
  return { text: text.trim(), range };
}

/** A version the runner reports, or undefined when it reports none we can compare. */
export function comparableVersion(reported: string | undefined): string | undefined {
  if (!reported || reported.startsWith("v0.0.0+unknown")) return undefined;
  return semver.parse(reported, { loose: true })?.version ?? semver.coerce(reported)?.version;
}

/**
 * The sentence that says why the pin is not met, or undefined when it is.
 * `reported` is undefined for daemons too old to report a version (before v0.11).
 */
export function versionPinMismatch(
  pin: VersionPin,
  reported: string | undefined,
  endpoint: string,
): string | undefined {
  if (reported === undefined) {
    return `The runner at ${endpoint} is older than BuildKit v0.11 and reports no version, so the pin "${pin.text}" cannot be met.`;
  }
  const version = comparableVersion(reported);
  if (version === undefined) {
    return `The runner at ${endpoint} reports BuildKit version "${reported}", which is not a release version, so the pin "${pin.text}" cannot be checked.`;
  }
  if (semver.satisfies(version, pin.range, { includePrerelease: true, loose: true })) return undefined;
  return `The runner at ${endpoint} runs BuildKit ${reported}, but the pin requires ${pin.text}.`;
}
