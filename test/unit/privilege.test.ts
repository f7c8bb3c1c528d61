// The command lines that run a command as root: directly, through sudo (which resets the
// environment, so the variables go through env), or in rootlesskit's user namespace.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { asRoot } from "../../src/runner/privilege.js";

describe("asRoot", () => {
  it("as root, runs the command itself with the variables added", () => {
    const command = asRoot("root", "tar", ["-xf", "a b.tar"], { PATH: "/opt/bin" });
    assert.equal(command.file, "tar");
    assert.deepEqual(command.args, ["-xf", "a b.tar"]);
    assert.equal(command.env.PATH, "/opt/bin");
  });

  it("through sudo, never asks for a password and passes the variables through env", () => {
    const command = asRoot("sudo", "/opt/bin/buildkitd", ["--root", "/s"], {
      PATH: "/opt/bin:/usr/bin",
      HTTP_PROXY: "http://p:3128",
    });
    assert.equal(command.file, "sudo");
    assert.deepEqual(command.args, [
      "-n",
      "--",
      "env",
      "PATH=/opt/bin:/usr/bin",
      "HTTP_PROXY=http://p:3128",
      "/opt/bin/buildkitd",
      "--root",
      "/s",
    ]);
  });

  it("rootless, runs the command in rootlesskit's namespace with the host's network", () => {
    const command = asRoot("rootless", "rm", ["-rf", "--", "/s/x"], { XDG_RUNTIME_DIR: "/tmp/r" });
    assert.equal(command.file, "rootlesskit");
    assert.deepEqual(command.args, [
      "--net=host",
      "--copy-up=/etc",
      "--disable-host-loopback",
      "rm",
      "-rf",
      "--",
      "/s/x",
    ]);
    assert.equal(command.env.XDG_RUNTIME_DIR, "/tmp/r");
  });
});
