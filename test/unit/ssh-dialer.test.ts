import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { parseEndpoint, type SshEndpoint } from "../../src/buildkit/endpoint.js";
import { describeSshFailure, sshArguments } from "../../src/buildkit/ssh-dialer.js";

const endpoint = (text: string) => parseEndpoint(text) as SshEndpoint;

describe("sshArguments", () => {
  it("ends as BuildKit's helper does, after options that never prompt or hang", () => {
    const args = sshArguments(
      endpoint("ssh://builder@runner.example:2222/run/buildkit/buildkitd.sock"),
      { identityPath: "/keys/id", knownHostsFile: "/keys/known_hosts" },
      10_000,
    );
    assert.deepEqual(args.slice(args.indexOf("-l")), [
      "-l",
      "builder",
      "-p",
      "2222",
      "--",
      "runner.example",
      "buildctl",
      "--addr",
      "unix:///run/buildkit/buildkitd.sock",
      "dial-stdio",
    ]);
    const options = args.slice(0, args.indexOf("-l")).join(" ");
    for (const option of [
      "-o BatchMode=yes",
      "-o ConnectTimeout=10",
      "-o ServerAliveInterval=10",
      "-o ServerAliveCountMax=3",
      "-o StrictHostKeyChecking=yes",
      "-o ControlPath=none",
      "-o UserKnownHostsFile=/keys/known_hosts",
      "-i /keys/id -o IdentitiesOnly=yes",
    ]) {
      assert.ok(options.includes(option), `${option} in ${options}`);
    }
  });

  it("leaves out user, port and socket when the URL has none, and the agent decides the key", () => {
    const args = sshArguments(endpoint("ssh://runner.example"), {}, 1_500);
    assert.deepEqual(args.slice(args.indexOf("--")), ["--", "runner.example", "buildctl", "dial-stdio"]);
    assert.ok(!args.includes("-i") && !args.includes("-l") && !args.includes("-p"));
    assert.ok(args.includes("ConnectTimeout=2"));
  });

  it("accepts new host keys only when asked", () => {
    const args = sshArguments(endpoint("ssh://h"), { acceptNewHostKeys: true, configFile: "none" }, 5_000);
    assert.ok(args.includes("StrictHostKeyChecking=accept-new"));
    assert.deepEqual(args.slice(0, 2), ["-F", "none"]);
  });
});

describe("describeSshFailure", () => {
  const at = endpoint("ssh://u@h:22/s.sock");
  const cases: Array<[string, RegExp]> = [
    [
      "u@h: Permission denied (publickey).\n",
      /^ssh could not log in to ssh:\/\/u@h:22\/s\.sock: the server refused the key/,
    ],
    [
      "ssh: connect to host h port 22: Connection refused\n",
      /^Nothing is listening for ssh at .* \(connection refused\)\.$/,
    ],
    ["ssh: connect to host h port 22: Connection timed out\n", /^ssh could not reach .* within 10 s\.$/],
    [
      "Timeout, server h not responding.\n",
      /^The ssh connection to .* was lost: the server stopped answering for 30 s\.$/,
    ],
    ["Host key verification failed.\n", /^ssh refused the host key of/],
    [
      "ssh: Could not resolve hostname h: Name or service not known\n",
      /^The host of .* cannot be resolved\.$/,
    ],
    ["bash: line 1: buildctl: command not found\n", /^buildctl is not on the PATH of the ssh login at/],
    ["something else\n", /^ssh to ssh:\/\/u@h:22\/s\.sock failed: something else\.$/],
    ["", /^ssh to ssh:\/\/u@h:22\/s\.sock failed\.$/],
  ];
  for (const [stderr, sentence] of cases) {
    it(`says ${JSON.stringify(stderr.trim() || "(nothing)")} in one sentence`, () => {
      const message = describeSshFailure(at, stderr, 10_000);
      assert.match(message, sentence);
      assert.doesNotMatch(message, /\n/);
    });
  }
});
