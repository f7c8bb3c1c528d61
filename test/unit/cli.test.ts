import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, mainHelp } from "../../src/cli/run.js";
import { PROGRAM_VERSION } from "../../src/version.js";

async function cli(argv: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(argv, {
    program: "remote-buildkit",
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    env,
    signal: new AbortController().signal,
  });
  return { code, stdout, stderr };
}

describe("the CLI's usage", () => {
  it("prints the help and exits 0 with --help, 2 with no command", async () => {
    assert.deepEqual(await cli(["--help"]), {
      code: 0,
      stdout: `${mainHelp("remote-buildkit")}\n`,
      stderr: "",
    });
    assert.equal((await cli([])).code, 2);
  });

  it("prints each command's help", async () => {
    const { code, stdout } = await cli(["info", "--help"]);
    assert.equal(code, 0);
    assert.match(stdout, /^Usage: remote-buildkit info \[flags\]/);
    assert.match(stdout, /--tlscacert PEM\|FILE/);
    assert.equal((await cli(["help", "info"])).stdout, stdout);
  });

  it("prints the version of package.json", async () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "package.json"), "utf8"));
    assert.equal(PROGRAM_VERSION, pkg.version);
    assert.equal((await cli(["--version"])).stdout, `remote-buildkit ${pkg.version}\n`);
  });

  const usage: Array<[string[], string]> = [
    [["frob"], 'error: Unknown command "frob": commands are build, info (see "remote-buildkit --help").\n'],
    [
      ["--addr", "tcp://x:1"],
      'error: Unknown command "--addr": put the command first (see "remote-buildkit --help").\n',
    ],
    [["info", "--bogus"], 'error: Unknown flag --bogus (see "remote-buildkit info --help").\n'],
    [
      ["build", "--taget", "x", "."],
      'error: Unknown flag --taget; did you mean --target? (see "remote-buildkit build --help").\n',
    ],
    [
      ["build", "--tags", "x", "."],
      'error: Unknown flag --tags; did you mean --tag? (see "remote-buildkit build --help").\n',
    ],
    [
      ["info", "--tlscert=x", "--adr", "tcp://x:1"],
      'error: Unknown flag --adr; did you mean --addr? (see "remote-buildkit info --help").\n',
    ],
    [
      ["help", "bogus"],
      'error: There is no command "bogus" to help with: commands are build, info (see "remote-buildkit --help").\n',
    ],
    [["help", "build", "info"], 'error: help takes one command, but got "build info".\n'],
    [
      ["info", "--timeout", "10"],
      'error: --timeout is "10", a number without a unit; write 10s, 10ms or 10m.\n',
    ],
    [["info", "--addr"], 'error: Flag --addr needs a value (see "remote-buildkit info --help").\n'],
    [["info", "extra"], 'error: info takes no arguments, but got "extra".\n'],
    [["info", "--format", "yaml"], 'error: --format is "yaml"; use text or json.\n'],
    [
      ["info", "--timeout", "soon"],
      'error: --timeout is "soon"; give a positive duration such as 30s, 1500ms, 2m or 1h.\n',
    ],
    [
      ["info", "--addr", "tcp://runner.invalid:1234"],
      "error: Refusing plaintext TCP to tcp://runner.invalid:1234: whoever reaches a BuildKit runner gets root on its machine. Give --tlscacert, --tlscert and --tlskey, or set --allow-plaintext to accept the risk.\n",
    ],
  ];
  usage.push(
    [
      ["build", "--progress", "tty", "."],
      'error: --progress is "tty"; use plain or auto (the log is buildctl\'s plain progress; no tty view).\n',
    ],
    [
      ["build", "--platform", "", "."],
      'error: --platform is given "", which has no value in it; give one or leave the flag out.\n',
    ],
    [
      ["build", "--platform", " , ", "."],
      'error: --platform is given " , ", which has no value in it; give one or leave the flag out.\n',
    ],
    [["build", "--annotation", "noequals", "."], 'error: --annotation "noequals" is not KEY=VALUE.\n'],
    [
      ["build", "--annotation", "bogus:k=v", "."],
      'error: --annotation "bogus:k=v" has the type "bogus"; use manifest, index, manifest-descriptor or index-descriptor, each with an optional [PLATFORM].\n',
    ],
    [
      ["info", "--tlscacert", "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"],
      "error: --tlscacert is not a valid PEM certificate.\n",
    ],
  );
  for (const [argv, stderr] of usage) {
    it(`exits 2 with one sentence for ${argv.join(" ")}`, async () => {
      assert.deepEqual(await cli(argv), { code: 2, stdout: "", stderr });
    });
  }

  it("reads BUILDKIT_HOST when --addr is not given", async () => {
    const { code, stderr } = await cli(["info"], { BUILDKIT_HOST: "ftp://nowhere" });
    assert.equal(code, 2);
    assert.match(stderr, /Endpoint "ftp:\/\/nowhere" uses the scheme ftp:\/\//);
  });
});
