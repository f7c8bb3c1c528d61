// Which BuildKit release a started runner runs, and where BuildKit publishes it.
import { InputError } from "../../errors.js";
import { BUILDKIT_VERSION } from "../../version.js";
import { RunnerStartError } from "../errors.js";
import type { VersionPin } from "../version-pin.js";

/** BuildKit's GitHub release assets; {version} has no leading v, {arch} is amd64, arm64, arm-v7... */
export const DEFAULT_RELEASE_URL =
  "https://github.com/moby/buildkit/releases/download/v{version}/buildkit-v{version}.linux-{arch}.tar.gz";

/** The architecture as BuildKit's release file names spell it. */
export function releaseArch(nodeArch: string = process.arch): string {
  const names: Record<string, string> = {
    x64: "amd64",
    arm64: "arm64",
    arm: "arm-v7",
    s390x: "s390x",
    ppc64: "ppc64le",
    riscv64: "riscv64",
  };
  const arch = names[nodeArch];
  if (!arch) throw new RunnerStartError(`BuildKit publishes no release for the ${nodeArch} architecture.`);
  return arch;
}

/**
 * The exact version to start for a pin: the pin itself when it is one version, else the pinned
 * BuildKit version (src/version.ts) when the range allows it. A range that excludes it cannot be
 * started.
 */
export function versionToStart(pin: VersionPin | undefined, name: string): string {
  if (!pin) return BUILDKIT_VERSION;
  if (pin.exact) return pin.exact;
  if (pin.takesPinned) return BUILDKIT_VERSION;
  throw new InputError(
    `${name} is the range "${pin.text}", which excludes v${BUILDKIT_VERSION}; give one exact version to start a runner.`,
  );
}

export function releaseUrl(pattern: string, version: string, arch: string): string {
  return pattern.replaceAll("{version}", version.replace(/^v/, "")).replaceAll("{arch}", arch);
}
