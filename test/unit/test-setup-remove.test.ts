// `npm run test-setup-remove -- --dry-run` lists what the removal would do, and does nothing: the
// real removal would take the users and packages other test runs on this machine use.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanEnv, REPO_ROOT, runProcess } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

const SCRIPT = join(REPO_ROOT, "scripts", "test-setup-remove.sh");

function userExists(name: string): boolean {
  try {
    execFileSync("id", ["-u", name], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("test-setup-remove", () => {
  it("with --dry-run, prints what it would remove and removes nothing", async () => {
    const cache = tempDir("rb-setup-cache-");
    writeFileSync(join(cache, "debian-packages"), "rootlesskit\nuidmap\nrootlesskit\n");
    const result = await runProcess("bash", [SCRIPT, "--dry-run"], {
      env: cleanEnv({ REMOTE_BUILDKIT_CACHE: cache }),
    });
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split("\n");
    for (const user of ["rb-test-sudo", "rb-test-plain"]) {
      const expected = userExists(user)
        ? `test-setup-remove: would run: userdel --remove ${user}`
        : `test-setup-remove: no user ${user}`;
      assert.ok(lines.includes(expected), `${expected} in\n${result.stdout}`);
    }
    assert.ok(
      lines.includes(
        "test-setup-remove: would run: env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq rootlesskit uidmap",
      ),
      result.stdout,
    );
    assert.equal(lines.at(-1), `test-setup-remove: would run: rm -rf ${cache}`);
    assert.ok(lines.every((line) => !line.includes("running:")));
    assert.ok(existsSync(join(cache, "debian-packages")));
  });

  it("refuses an argument it does not know with exit code 2", async () => {
    const result = await runProcess("bash", [SCRIPT, "--now"]);
    assert.equal(result.code, 2);
    assert.equal(result.stderr, "usage: npm run test-setup-remove [-- --dry-run] (not --now)\n");
  });
});
