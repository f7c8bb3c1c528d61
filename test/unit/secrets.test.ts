// Secrets, SSH agents and registry credentials as the user writes them, read before the build.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import {
  readSecrets,
  readSshAgents,
  secretFromBuildxSpec,
  secretFromEnvLine,
  secretFromFileLine,
  secretFromValueLine,
} from "../../src/job/secrets.js";
import { parseRegistryAuth } from "../../src/credentials/registry-auth.js";
import { InputError } from "../../src/errors.js";
import { tempDir } from "../helpers/temp.js";

const NAMES = { file: "input secret-files", env: "input secret-envs" };

function throwsInput(body: () => unknown, message: RegExp): void {
  assert.throws(body, (error: unknown) => error instanceof InputError && message.test(error.message));
}

describe("secrets", () => {
  it("reads buildx's --secret forms and the action's three inputs", () => {
    assert.deepEqual(secretFromBuildxSpec("id=a,src=./f", "--secret"), {
      id: "a",
      kind: "file",
      path: "./f",
    });
    assert.deepEqual(secretFromBuildxSpec("id=a,env=VAR", "--secret"), { id: "a", kind: "env", name: "VAR" });
    assert.deepEqual(secretFromBuildxSpec("id=TOKEN", "--secret"), {
      id: "TOKEN",
      kind: "env",
      name: "TOKEN",
    });
    assert.deepEqual(secretFromBuildxSpec("type=env,id=a,src=VAR", "--secret"), {
      id: "a",
      kind: "env",
      name: "VAR",
    });
    assert.deepEqual(secretFromValueLine("a=x=y", "input secrets"), { id: "a", kind: "value", value: "x=y" });
    assert.deepEqual(secretFromFileLine("a=/f", "input secret-files"), { id: "a", kind: "file", path: "/f" });
    assert.deepEqual(secretFromEnvLine("a=VAR", "input secret-envs"), { id: "a", kind: "env", name: "VAR" });
  });

  it("reads every value now and hands each to onSecret", () => {
    const dir = tempDir("rb-secrets-");
    writeFileSync(join(dir, "token"), "from-file");
    const seen: string[] = [];
    const secrets = readSecrets(
      [
        { id: "v", kind: "value", value: "inline" },
        { id: "f", kind: "file", path: "token" },
        { id: "e", kind: "env", name: "VAR" },
      ],
      NAMES,
      { cwd: dir, env: { VAR: "from-env" }, onSecret: (value) => seen.push(value) },
    );
    assert.deepEqual(
      [...secrets].map(([id, value]) => [id, Buffer.from(value).toString()]),
      [
        ["v", "inline"],
        ["f", "from-file"],
        ["e", "from-env"],
      ],
    );
    assert.deepEqual(seen, ["inline", "from-file", "from-env"]);
  });

  it("refuses bad secrets without quoting a value", () => {
    throwsInput(
      () => secretFromValueLine("no-equals-sign-value", "input secrets"),
      /^A line of input secrets is not ID=VALUE\.$/,
    );
    throwsInput(() => secretFromBuildxSpec("id=a,src=f,env=V", "--secret"), /gives both src and env/);
    throwsInput(() => secretFromBuildxSpec("id=a b", "--secret"), /is not a secret id/);
    const context = { cwd: "/", env: {}, onSecret: () => {} };
    throwsInput(
      () => readSecrets([{ id: "a", kind: "file", path: "/nonexistent" }], NAMES, context),
      /cannot be read \(ENOENT\)/,
    );
    throwsInput(
      () => readSecrets([{ id: "a", kind: "env", name: "UNSET" }], NAMES, context),
      /UNSET, which is not set/,
    );
    throwsInput(
      () =>
        readSecrets(
          [
            { id: "a", kind: "value", value: "1" },
            { id: "a", kind: "value", value: "2" },
          ],
          NAMES,
          context,
        ),
      /^Secret "a" is given twice\.$/,
    );
  });
});

describe("ssh agents", () => {
  it("forwards default from SSH_AUTH_SOCK and ID=SOCKET, and refuses what is not a socket", async () => {
    const dir = tempDir("rb-ssh-");
    const socket = join(dir, "agent.sock");
    const server = createServer().listen(socket);
    await new Promise((resolve) => server.once("listening", resolve));
    try {
      const context = { cwd: dir, env: { SSH_AUTH_SOCK: socket } };
      assert.deepEqual(
        [...readSshAgents(["default", "work=agent.sock"], "--ssh", context)],
        [
          ["default", socket],
          ["work", socket],
        ],
      );
      writeFileSync(join(dir, "id_ed25519"), "key");
      throwsInput(() => readSshAgents(["key=id_ed25519"], "--ssh", context), /is not an agent socket/);
      throwsInput(
        () => readSshAgents(["default"], "--ssh", { cwd: dir, env: {} }),
        /SSH_AUTH_SOCK, which is not set/,
      );
      throwsInput(() => readSshAgents(["x=missing.sock"], "--ssh", context), /does not exist/);
    } finally {
      server.close();
    }
  });
});

describe("registry-auth", () => {
  it("reads REGISTRY=USERNAME:PASSWORD lines, masking each password first", () => {
    const masked: string[] = [];
    const parsed = parseRegistryAuth(
      "# comment\nghcr.io=octo:pa:ss\n\n127.0.0.1:5000=u:p2\n",
      "input registry-auth",
      (value) => masked.push(value),
    );
    assert.deepEqual(parsed, [
      { registry: "ghcr.io", username: "octo", password: "pa:ss" },
      { registry: "127.0.0.1:5000", username: "u", password: "p2" },
    ]);
    assert.deepEqual(masked, ["pa:ss", "p2"]);
  });

  it("names the line, never its content", () => {
    throwsInput(
      () => parseRegistryAuth("ghcr.io=only-a-token", "input registry-auth", () => {}),
      /^Line 1 of input registry-auth is not REGISTRY=USERNAME:PASSWORD\.$/,
    );
  });
});
