// The maintainers' pin on the runner's BuildKit version: an exact version or a semver range.
import { InputError } from "../errors.js";
import { loadSemver } from "../libraries.js";
import { BUILDKIT_VERSION } from "../version.js";

export interface VersionPin {
  /** As the user wrote it, for messages. */
  text: string;
  range: string;
  /** The version itself when the pin is one exact version. */
  exact?: string;
  /** Whether the range takes the BuildKit version this program pins (src/version.ts). */
  takesPinned: boolean;
}

export async function parseVersionPin(text: string, name: string): Promise<VersionPin> {
  const semver = await loadSemver();
  const range = semver.validRange(text.trim(), { loose: true });
  if (range === null) {
    throw new InputError(
      `${name} is "${text}", which is neither a version (v${BUILDKIT_VERSION}) nor a semver range (>=0.30 <0.33).`,
    );
  }
  const exact = semver.valid(semver.clean(text, { loose: true }) ?? "", { loose: true }) ?? undefined;
  const takesPinned = semver.satisfies(BUILDKIT_VERSION, range, { includePrerelease: true });
  return { text: text.trim(), range, exact, takesPinned };
}

/** A version the runner reports, or undefined when it reports none we can compare. */
export async function comparableVersion(reported: string | undefined): Promise<string | undefined> {
  if (!reported || reported.startsWith("v0.0.0+unknown")) return undefined;
  const semver = await loadSemver();
  return semver.parse(reported, { loose: true })?.version ?? semver.coerce(reported)?.version;
}

/**
 * The sentence that says why the pin is not met, or undefined when it is.
 * `reported` is undefined for daemons too old to report a version (before v0.11).
 */
export async function versionPinMismatch(
  pin: VersionPin,
  reported: string | undefined,
  endpoint: string,
): Promise<string | undefined> {
  if (reported === undefined) {
    return `The runner at ${endpoint} is older than BuildKit v0.11 and reports no version, so the pin "${pin.text}" cannot be met.`;
  }
  const version = await comparableVersion(reported);
  if (version === undefined) {
    return `The runner at ${endpoint} reports BuildKit version "${reported}", which is not a release version, so the pin "${pin.text}" cannot be checked.`;
  }
  const semver = await loadSemver();
  if (semver.satisfies(version, pin.range, { includePrerelease: true, loose: true })) return undefined;
  return `The runner at ${endpoint} runs BuildKit ${reported}, but the pin requires ${pin.text}.`;
}
