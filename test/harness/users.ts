// Users for the tests of a runner started by someone who is not root: one with passwordless sudo
// (as GitHub's hosted runners have), one without, who runs buildkitd rootless (subordinate ids
// for its user namespace). Created once on this machine, as the harness installs packages.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

export const SUDO_USER = "rb-test-sudo";
export const PLAIN_USER = "rb-test-plain";
const SUDOERS_FILE = "/etc/sudoers.d/remote-buildkit-tests";

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
}

/** Creates the two users (and the sudoers rule of the first) when missing; needs root. */
export function ensureTestUsers(): { sudo: TestUser; plain: TestUser } {
  for (const name of [SUDO_USER, PLAIN_USER]) {
    if (!userExists(name)) execFileSync("useradd", ["--create-home", "--shell", "/bin/sh", name]);
  }
  // useradd gives new users subordinate ids where login.defs says so; make sure of it.
  const SUBORDINATE_IDS = "1000000-1065535";
  for (const [file, flag] of [
    ["/etc/subuid", "--add-subuids"],
    ["/etc/subgid", "--add-subgids"],
  ] as const) {
    const lines = readFileSync(file, "utf8").split("\n");
    if (!lines.some((line) => line.startsWith(`${PLAIN_USER}:`))) {
      execFileSync("usermod", [flag, SUBORDINATE_IDS, PLAIN_USER]);
    }
  }
  const rule = `${SUDO_USER} ALL=(root) NOPASSWD: ALL\n`;
  writeFileSync(`${SUDOERS_FILE}.new`, rule, { mode: 0o440 });
  execFileSync("visudo", ["-c", "-q", "-f", `${SUDOERS_FILE}.new`]);
  execFileSync("mv", [`${SUDOERS_FILE}.new`, SUDOERS_FILE]);
  return { sudo: user(SUDO_USER), plain: user(PLAIN_USER) };
}

function userExists(name: string): boolean {
  try {
    execFileSync("id", ["-u", name], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function user(name: string): TestUser {
  const id = (flag: string) => Number(execFileSync("id", [flag, name]).toString().trim());
  return { name, uid: id("-u"), gid: id("-g") };
}
