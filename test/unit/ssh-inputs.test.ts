// The key and known hosts for ssh:// endpoints as the inputs give them: key text masked at once
// and kept in memory, a file path checked, both refused when no endpoint is an ssh:// one.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../../src/errors.js";
import { runnerOptions } from "../../src/job/request.js";
import { inputsOf, type GivenInputs, type ReadOptions } from "../helpers/inputs.js";
import { tempDir } from "../helpers/temp.js";

const SSH = "ssh://builder@runner.example/run/buildkit/buildkitd.sock";
const KEY = [
  "-----BEGIN OPENSSH PRIVATE KEY-----",
  "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
  "-----END OPENSSH PRIVATE KEY-----",
].join("\n");

async function ssh(given: GivenInputs, options: ReadOptions = {}) {
  return runnerOptions(await inputsOf(given, options)).ssh;
}

async function refused(given: GivenInputs, pattern: RegExp, options: ReadOptions = {}): Promise<void> {
  await assert.rejects(
    () => ssh(given, options),
    (error: Error) => {
      assert.ok(error instanceof InputError, `${error.name}: ${error.message}`);
      assert.match(error.message, pattern);
      assert.doesNotMatch(error.message, /PRIVATE KEY|b3BlbnNzaC/);
      return true;
    },
  );
}

describe("ssh-key and ssh-known-hosts", () => {
  it("keep key text in memory, masked before anything can print it", async () => {
    const masked: string[] = [];
    const options = await ssh({ endpoint: SSH, sshKey: KEY }, { mask: (value) => masked.push(value) });
    assert.equal(options?.identityKey, KEY);
    assert.equal(options?.identityFile, undefined);
    assert.deepEqual(masked, [KEY]);
  });

  it("take a key file's path, checked now", async () => {
    const dir = tempDir("rb-ssh-inputs-");
    writeFileSync(join(dir, "id_ed25519"), KEY, { mode: 0o600 });
    assert.equal(
      (await ssh({ endpoint: SSH, sshKey: "id_ed25519" }, { cwd: dir }))?.identityFile,
      join(dir, "id_ed25519"),
    );
    await refused(
      { endpoint: SSH, sshKey: "missing" },
      /^input ssh-key "missing" cannot be read \(ENOENT\)\.$/,
      {
        cwd: dir,
      },
    );
    await refused(
      { endpoint: SSH, sshKey: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----" },
      /^input ssh-key is not a private key\.$/,
    );
  });

  it("take known_hosts lines as text and a single word as a file", async () => {
    const line = "[runner.example]:22 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample";
    assert.equal((await ssh({ endpoint: SSH, sshKnownHosts: line }))?.knownHosts, line);
    const dir = tempDir("rb-ssh-inputs-");
    writeFileSync(join(dir, "known_hosts"), `${line}\n`);
    assert.equal(
      (await ssh({ endpoint: SSH, sshKnownHosts: "known_hosts" }, { cwd: dir }))?.knownHostsFile,
      join(dir, "known_hosts"),
    );
  });

  it("come from BUILDKIT_SSH_KEY and BUILDKIT_SSH_KNOWN_HOSTS for the CLI", async () => {
    const options = await ssh(
      {},
      {
        adapter: "cli",
        command: "info",
        env: { BUILDKIT_HOST: SSH, BUILDKIT_SSH_KEY: KEY, BUILDKIT_SSH_KNOWN_HOSTS: "a ssh-ed25519 AAAA" },
      },
    );
    assert.equal(options?.identityKey, KEY);
    assert.equal(options?.knownHosts, "a ssh-ed25519 AAAA");
  });

  it("are refused when no endpoint is an ssh:// one, without printing the key", async () => {
    await refused(
      { endpoint: "tcp://127.0.0.1:1234", sshKey: KEY },
      /^input ssh-key is for ssh:\/\/ endpoints, and input endpoint names none\.$/,
    );
    await refused(
      { sshKnownHosts: "a ssh-ed25519 AAAA" },
      /^input ssh-known-hosts is for ssh:\/\/ endpoints/,
    );
    assert.equal(await ssh({ endpoint: SSH }), undefined);
  });
});
