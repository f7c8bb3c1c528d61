import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  configKey,
  DOCKER_HUB_CONFIG_KEY,
  dockerConfigFile,
  loadRegistryCredentials,
  type RegistryCredentialOptions,
} from "../../src/credentials/docker-config.js";
import { InputError } from "../../src/errors.js";
import { tempDir } from "../helpers/temp.js";

const base64 = (text: string) => Buffer.from(text).toString("base64");

/** A DOCKER_CONFIG directory holding `config` (an object, or raw text). */
function configDir(config: unknown): string {
  const dir = tempDir("rb-docker-config-");
  writeFileSync(join(dir, "config.json"), typeof config === "string" ? config : JSON.stringify(config));
  return dir;
}

/**
 * A bin directory with a real `docker-credential-test` helper: it logs what it read on stdin to
 * requests.log and answers from a table, the way docker-credential-helpers' programs do.
 */
function helperBin(script: string): string {
  const bin = tempDir("rb-helper-bin-");
  const path = join(bin, "docker-credential-test");
  writeFileSync(path, `#!/bin/sh\nread -r host\necho "$1 $host" >> "${bin}/requests.log"\n${script}\n`);
  chmodSync(path, 0o755);
  return bin;
}

const TABLE_HELPER = `case "$host" in
  registry.example.com) echo '{"ServerURL":"registry.example.com","Username":"helper-user","Secret":"helper-secret"}' ;;
  token.example.com) echo '{"ServerURL":"token.example.com","Username":"<token>","Secret":"identity-from-helper"}' ;;
  ${DOCKER_HUB_CONFIG_KEY}) echo '{"Username":"hub-user","Secret":"hub-secret"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac`;

function load(options: Partial<RegistryCredentialOptions> & { env: NodeJS.ProcessEnv }) {
  const secrets: string[] = [];
  const lookup = loadRegistryCredentials({ onSecret: (value) => secrets.push(value), ...options });
  return { lookup, secrets };
}

describe("registry credentials", () => {
  it("maps Docker Hub's names to docker's config key and keeps other hosts as they are", () => {
    for (const name of [
      "docker.io",
      "index.docker.io",
      "registry-1.docker.io",
      "https://index.docker.io/v1/",
    ]) {
      assert.equal(configKey(name), DOCKER_HUB_CONFIG_KEY, name);
    }
    assert.equal(configKey("ghcr.io"), "ghcr.io");
    assert.equal(configKey("https://registry.example.com:5000/v2/"), "registry.example.com:5000");
    assert.equal(configKey("127.0.0.1:5000"), "127.0.0.1:5000");
  });

  it("finds the config through DOCKER_CONFIG, else HOME", () => {
    assert.equal(dockerConfigFile({ DOCKER_CONFIG: "/cfg", HOME: "/home/u" }), "/cfg/config.json");
    assert.equal(dockerConfigFile({ HOME: "/home/u" }), "/home/u/.docker/config.json");
  });

  it("reads auths: auth (base64 user:password), username/password, identitytoken", async () => {
    const dir = configDir({
      auths: {
        [DOCKER_HUB_CONFIG_KEY]: { auth: base64("hubuser:hub:pass") },
        "ghcr.io": { username: "octo", password: "ghcr-pass" },
        "https://legacy.example.com/v1/": { auth: base64("old:legacy-pass") },
        "id.example.com": { username: "ignored", identitytoken: "refresh-token" },
        "empty.example.com": {},
      },
    });
    const { lookup, secrets } = load({ env: { DOCKER_CONFIG: dir } });
    assert.deepEqual(await lookup("registry-1.docker.io"), { username: "hubuser", secret: "hub:pass" });
    assert.deepEqual(await lookup("ghcr.io"), { username: "octo", secret: "ghcr-pass" });
    assert.deepEqual(await lookup("legacy.example.com"), { username: "old", secret: "legacy-pass" });
    assert.deepEqual(await lookup("id.example.com"), { username: "", secret: "refresh-token" });
    assert.equal(await lookup("empty.example.com"), undefined);
    assert.equal(await lookup("unknown.example.com"), undefined);
    // Every secret was reported as it was parsed, before any lookup.
    for (const value of [
      "hub:pass",
      "ghcr-pass",
      "legacy-pass",
      "refresh-token",
      base64("hubuser:hub:pass"),
    ]) {
      assert.ok(secrets.includes(value), value);
    }
  });

  it("reports secrets when the config is read, not when a host is looked up", () => {
    const dir = configDir({ auths: { "ghcr.io": { username: "octo", password: "early" } } });
    const { secrets } = load({ env: { DOCKER_CONFIG: dir } });
    assert.deepEqual(secrets, ["early"]);
  });

  it("accepts a Docker Hub entry under any of its host names", async () => {
    const dir = configDir({ auths: { "docker.io": { username: "u", password: "p" } } });
    const { lookup } = load({ env: { DOCKER_CONFIG: dir } });
    assert.deepEqual(await lookup("registry-1.docker.io"), { username: "u", secret: "p" });
  });

  it("treats a missing or empty config as no credentials", async () => {
    const empty = tempDir("rb-docker-config-");
    assert.equal(await load({ env: { DOCKER_CONFIG: empty } }).lookup("ghcr.io"), undefined);
    assert.equal(await load({ env: { DOCKER_CONFIG: configDir("") } }).lookup("ghcr.io"), undefined);
  });

  it("lets explicit credentials win, and gives them only to their registry", async () => {
    const dir = configDir({ auths: { "ghcr.io": { username: "file", password: "file-pass" } } });
    const { lookup, secrets } = load({
      env: { DOCKER_CONFIG: dir },
      explicit: [
        { registry: "ghcr.io", username: "input", password: "input-pass" },
        { registry: "docker.io", username: "hub", password: "hub-input" },
      ],
    });
    assert.deepEqual(await lookup("ghcr.io"), { username: "input", secret: "input-pass" });
    assert.deepEqual(await lookup("registry-1.docker.io"), { username: "hub", secret: "hub-input" });
    assert.equal(await lookup("quay.io"), undefined);
    assert.ok(secrets.includes("input-pass") && secrets.includes("hub-input"));
  });

  it("rejects explicit credentials with an empty password or a duplicate registry", () => {
    const env = { DOCKER_CONFIG: tempDir("rb-docker-config-") };
    assert.throws(
      () => load({ env, explicit: [{ registry: "ghcr.io", username: "u", password: "" }] }),
      (error: Error) => error instanceof InputError && /ghcr\.io/.test(error.message),
    );
    assert.throws(
      () =>
        load({
          env,
          explicit: [
            { registry: "docker.io", username: "u", password: "one" },
            { registry: "index.docker.io", username: "u", password: "two" },
          ],
        }),
      InputError,
    );
  });

  it("runs credHelpers for their host and credsStore for the rest, with the host on stdin", async () => {
    const bin = helperBin(TABLE_HELPER);
    const dir = configDir({
      auths: { "plain.example.com": { username: "file", password: "file-pass" } },
      credHelpers: { "registry.example.com": "test", "token.example.com": "test" },
    });
    const env = { DOCKER_CONFIG: dir, PATH: `${bin}:${process.env.PATH}` };
    const { lookup, secrets } = load({ env });
    assert.deepEqual(await lookup("registry.example.com"), {
      username: "helper-user",
      secret: "helper-secret",
    });
    assert.deepEqual(await lookup("token.example.com"), { username: "", secret: "identity-from-helper" });
    assert.deepEqual(await lookup("plain.example.com"), { username: "file", secret: "file-pass" });
    assert.ok(secrets.includes("helper-secret") && secrets.includes("identity-from-helper"));

    const store = configDir({ credsStore: "test" });
    const fromStore = load({ env: { DOCKER_CONFIG: store, PATH: env.PATH } }).lookup;
    assert.deepEqual(await fromStore("registry-1.docker.io"), { username: "hub-user", secret: "hub-secret" });
    // The helper's "not found" answer means anonymous, not an error.
    assert.equal(await fromStore("nothing.example.com"), undefined);
  });

  it("runs a helper once per host while its answer is fresh", async () => {
    const bin = helperBin(TABLE_HELPER);
    const dir = configDir({ credsStore: "test" });
    const { lookup } = load({ env: { DOCKER_CONFIG: dir, PATH: `${bin}:${process.env.PATH}` } });
    await Promise.all([lookup("registry.example.com"), lookup("registry.example.com")]);
    await lookup("registry.example.com");
    assert.equal(readFileSync(join(bin, "requests.log"), "utf8"), "get registry.example.com\n");
  });

  it("names the helper and never the secret when a helper fails, is missing, lies or hangs", async () => {
    const failing = helperBin(`echo "cannot unlock keychain holding top-secret-value" >&2; exit 3`);
    const garbage = helperBin(`echo 'not json top-secret-value'`);
    const hanging = helperBin(`sleep 30`);
    const cases: Array<[string, NodeJS.ProcessEnv, RegExp]> = [
      [
        "failing",
        { PATH: `${failing}:${process.env.PATH}` },
        /docker-credential-test .*failed with exit code 3/,
      ],
      ["missing", { PATH: "/nonexistent" }, /docker-credential-test .*is not on PATH/],
      [
        "garbage",
        { PATH: `${garbage}:${process.env.PATH}` },
        /docker-credential-test .*printed something other/,
      ],
      [
        "hanging",
        { PATH: `${hanging}:${process.env.PATH}` },
        /docker-credential-test .*did not answer within 0.5 s/,
      ],
    ];
    for (const [name, env, pattern] of cases) {
      const dir = configDir({ credHelpers: { "registry.example.com": "test" } });
      const { lookup } = load({ env: { ...env, DOCKER_CONFIG: dir }, helperTimeoutMs: 500 });
      await assert.rejects(lookup("registry.example.com"), (error: Error) => {
        assert.ok(error instanceof InputError, name);
        assert.match(error.message, pattern, name);
        assert.match(error.message, /registry\.example\.com/);
        assert.ok(!error.message.includes("top-secret-value"), name);
        return true;
      });
    }
  });

  it("stops a helper when the runner stops waiting", async () => {
    const hanging = helperBin(`sleep 30`);
    const dir = configDir({ credsStore: "test" });
    const { lookup } = load({ env: { DOCKER_CONFIG: dir, PATH: `${hanging}:${process.env.PATH}` } });
    const controller = new AbortController();
    const pending = lookup("registry.example.com", controller.signal);
    controller.abort();
    await assert.rejects(pending, InputError);
  });

  it("rejects a config that is not JSON without quoting it", () => {
    const dir = configDir('{"auths": {"ghcr.io": {"password": "leaky-pass"}}, oops}');
    assert.throws(
      () => load({ env: { DOCKER_CONFIG: dir } }),
      (error: Error) =>
        error instanceof InputError &&
        error.message === `The docker config ${join(dir, "config.json")} is not valid JSON.` &&
        !error.message.includes("leaky-pass"),
    );
  });

  it("rejects malformed entries with a sentence naming the file and the entry", () => {
    const bad = [
      [{ auths: [] }, /"auths"/],
      [{ auths: { "ghcr.io": { auth: "!!!not-base64" } } }, /"auth".*ghcr\.io/],
      [{ auths: { "ghcr.io": { auth: base64("no-colon-here") } } }, /"auth".*ghcr\.io/],
      [{ auths: { "ghcr.io": { password: 42 } } }, /"password".*ghcr\.io/],
      [{ credHelpers: { "ghcr.io": 7 } }, /credential helper for ghcr\.io/],
      [{ credsStore: ["x"] }, /"credsStore"/],
      [[1, 2], /not a JSON object/],
    ] as const;
    for (const [config, pattern] of bad) {
      const dir = configDir(config);
      assert.throws(
        () => load({ env: { DOCKER_CONFIG: dir } }),
        (error: Error) =>
          error instanceof InputError && pattern.test(error.message) && error.message.includes(dir),
        JSON.stringify(config),
      );
    }
  });

  it("reports a config it cannot read", () => {
    // A directory where the file should be: unreadable even for root, unlike a chmod 000 file.
    const dir = tempDir("rb-docker-config-");
    mkdirSync(join(dir, "config.json"));
    assert.throws(
      () => load({ env: { DOCKER_CONFIG: dir } }),
      (error: Error) => error instanceof InputError && error.message.includes(join(dir, "config.json")),
    );
  });

  it("tells a config it cannot read and goes on anonymously where the build needs no credentials", async () => {
    const dir = tempDir("rb-docker-config-");
    mkdirSync(join(dir, "config.json"));
    const told: string[] = [];
    const { lookup } = load({
      env: { DOCKER_CONFIG: dir },
      onUnreadableConfig: (message) => told.push(message),
    });
    assert.deepEqual(told, [
      `The docker config ${join(dir, "config.json")} cannot be read (EISDIR); building without its registry credentials.`,
    ]);
    assert.equal(await lookup("ghcr.io"), undefined);
  });

  it("reads nothing with useDockerConfig false", async () => {
    const dir = configDir("not json at all");
    const { lookup } = load({ env: { DOCKER_CONFIG: dir }, useDockerConfig: false });
    assert.equal(await lookup("ghcr.io"), undefined);
  });
});
