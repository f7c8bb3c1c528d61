// This program's own version, read from package.json at build time (the bundle carries it), and
// the BuildKit release it is pinned to: the version a started runner runs and the tests run
// against. The shell scripts and workflow files that cannot import it are kept equal by a unit test.
import packageJson from "../package.json" with { type: "json" };

export const PROGRAM_VERSION: string = packageJson.version;

/** The pinned BuildKit release, without the leading v. */
export const BUILDKIT_VERSION = "0.32.2";
