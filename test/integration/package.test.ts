// The CLI as a user installs it from npm: `npm pack` makes the tarball a publish would upload
// (--ignore-scripts: the suite has just built dist/, which prepack would build again),
// which holds the bundle and nothing to install besides; installed into a prefix, and run by npx
// as `npx remote-buildkit`, its CLI prints its version and builds on the test runner, on Node 20
// and on Node 24 (each from npm's `node` package, through npx).
import { beforeAll, describe, it, jest } from "@jest/globals";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { connectionFlags, runnerUnderTest } from "../harness/env.js";
import { cleanEnv, REPO_ROOT, runProcess } from "../helpers/cli.js";
import { makeContext } from "../helpers/contexts.js";
import { tempDir } from "../helpers/temp.js";

jest.setTimeout(5 * 60_000);

const { version } = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };

let tarball: string;
let prefix: string;
let connection: string[];

function npm(args: string[], cwd = REPO_ROOT) {
  return runProcess("npm", args, { env: cleanEnv(), cwd, timeoutMs: 4 * 60_000 });
}

/**
 * Runs a shell command with npm's node@MAJOR first on PATH, as `npx -p node@MAJOR` gives it, and
 * either the prefix's bin or the tarball itself as an npx package.
 */
function onNode(major: string, command: string, from: "prefix" | "npx") {
  const packages = [`node@${major}`, ...(from === "npx" ? [tarball] : [])].flatMap((name) => ["-p", name]);
  const path = from === "prefix" ? `${join(prefix, "bin")}:${process.env.PATH}` : process.env.PATH;
  return runProcess("npx", ["-y", ...packages, "-c", command], {
    env: cleanEnv({ PATH: path }),
    cwd: tempDir("rb-npx-cwd-"),
    timeoutMs: 4 * 60_000,
  });
}

beforeAll(async () => {
  connection = connectionFlags(runnerUnderTest());
  const destination = tempDir("rb-pack-");
  const packed = await npm(["pack", "--ignore-scripts", "--json", "--pack-destination", destination]);
  assert.equal(packed.code, 0, packed.stderr);
  const [manifest] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  // npm adds a LICENSE file by itself, when the repository has one.
  const license = existsSync(join(REPO_ROOT, "LICENSE")) ? ["LICENSE"] : [];
  assert.deepEqual(
    manifest!.files.map((file) => file.path).sort(),
    [...license, "README.md", "dist/cli.mjs", "package.json"],
    "the tarball holds the bundle, the README, the license and package.json only",
  );
  tarball = join(destination, manifest!.filename);
  prefix = tempDir("rb-prefix-");
  const installed = await npm([
    "install",
    "--global",
    "--prefix",
    prefix,
    "--no-audit",
    "--no-fund",
    tarball,
  ]);
  assert.equal(installed.code, 0, installed.stderr);
  // Nothing to install besides the package: the bundle carries what it needs.
  assert.match(installed.stdout, /added 1 package/);
  assert.doesNotMatch(installed.stderr, /EBADENGINE/);
});

describe("the packed CLI", () => {
  for (const major of ["20", "24"]) {
    it(`installed from the tarball, prints its version and builds on Node ${major}`, async () => {
      const context = makeContext({ Dockerfile: "FROM scratch\nCOPY busybox /bin/busybox\n" });
      const result = await onNode(
        major,
        [
          "node --version",
          "remote-buildkit --version",
          `remote-buildkit build ${[...connection, context].map((arg) => `'${arg}'`).join(" ")}`,
        ].join(" && "),
        "prefix",
      );
      assert.equal(result.code, 0, result.stderr);
      const [nodeVersion, programVersion] = result.stdout.split("\n");
      assert.match(nodeVersion!, new RegExp(`^v${major}\\.`));
      assert.equal(programVersion, `remote-buildkit ${version}`);
      assert.match(result.stderr, /^#\d+ \[1\/1\] COPY busybox \/bin\/busybox$/m);
      assert.match(result.stderr.trim().split("\n").at(-2)!, /^Build succeeded in \d+\.\ds on tcp:\/\//);
    });
  }

  it("runs as npx remote-buildkit, and names itself so in its help and hints", async () => {
    const result = await onNode("24", "remote-buildkit help bogus; remote-buildkit --help", "npx");
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stderr,
      'error: There is no command "bogus" to help with: commands are build, info (see "npx remote-buildkit --help").\n',
    );
    assert.match(result.stdout, /^Usage: npx remote-buildkit COMMAND \[flags\]$/m);
  });
});
