// This program's own version (a unit test keeps it equal to package.json's), and the BuildKit
// release it is pinned to: the version a started runner runs and the tests run against. The
// shell scripts and workflow files that cannot import it are kept equal by a unit test.
export const PROGRAM_VERSION = "0.1.0";

/** The pinned BuildKit release, without the leading v. */
export const BUILDKIT_VERSION = "0.32.2";
