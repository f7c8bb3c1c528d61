// cache-from and cache-to as buildx reads them, what the action fills in for gha, each
// platform's own cache across runners, and the Solve request's cache fields.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { cacheForPlatform, parseCacheList, type CacheOptions } from "../../src/job/cache.js";
import { solveRequest } from "../../src/job/solve-request.js";
import type { BuildPlan } from "../../src/job/plan.js";

function parse(items: string[], direction: "import" | "export", env: NodeJS.ProcessEnv = {}) {
  const masked: string[] = [];
  const entries = parseCacheList(items, direction, {
    name: "--cache",
    cwd: "/work",
    env,
    mask: (value) => masked.push(value),
  });
  return { entries: JSON.parse(JSON.stringify(entries)) as CacheOptions[], masked };
}

describe("cache-from and cache-to", () => {
  it("take a bare reference, or a comma-separated list of them, as registry caches", () => {
    assert.deepEqual(parse(["reg.test/app:cache", "a/b,c/d"], "import").entries, [
      { type: "registry", attrs: { ref: "reg.test/app:cache" } },
      { type: "registry", attrs: { ref: "a/b" } },
      { type: "registry", attrs: { ref: "c/d" } },
    ]);
  });

  it("read CSV fields with quotes and lowercase keys, as buildx does", () => {
    assert.deepEqual(parse(['type=registry,REF=r/c,mode=max,"compression=zstd"'], "export").entries, [
      { type: "registry", attrs: { ref: "r/c", mode: "max", compression: "zstd" } },
    ]);
  });

  it("take inline only as an export", () => {
    assert.deepEqual(parse(["type=inline"], "export").entries, [{ type: "inline", attrs: {} }]);
    assert.throws(
      () => parse(["type=inline"], "import"),
      /has type=inline; use registry, local, gha, s3 or azblob\./,
    );
  });

  it("make a local cache's directory absolute", () => {
    assert.deepEqual(parse(["type=local,src=cache"], "import").entries, [
      { type: "local", attrs: { src: "/work/cache" } },
    ]);
  });

  it("fill gha's url and token from the job's environment and mask the token", () => {
    const v1 = parse(["type=gha,scope=app"], "export", {
      ACTIONS_CACHE_URL: "http://cache/",
      ACTIONS_RUNTIME_TOKEN: "t0ken",
    });
    assert.deepEqual(v1.entries, [
      { type: "gha", attrs: { scope: "app", token: "t0ken", url: "http://cache/" } },
    ]);
    assert.ok(v1.masked.includes("t0ken"));
    const v2 = parse(["type=gha"], "import", {
      ACTIONS_CACHE_SERVICE_V2: "True",
      ACTIONS_RESULTS_URL: "http://results/",
      ACTIONS_RUNTIME_TOKEN: "t0ken",
    });
    assert.deepEqual(v2.entries, [
      { type: "gha", attrs: { token: "t0ken", url_v2: "http://results/", url: "http://results/" } },
    ]);
  });

  it("give each platform its own cache when platforms build on different runners", () => {
    const platform = "linux/arm64";
    assert.equal(
      cacheForPlatform({ type: "registry", attrs: { ref: "reg:5000/c:main" } }, platform).attrs.ref,
      "reg:5000/c:main-linux-arm64",
    );
    assert.equal(
      cacheForPlatform({ type: "registry", attrs: { ref: "reg:5000/c" } }, platform).attrs.ref,
      "reg:5000/c:linux-arm64",
    );
    assert.equal(cacheForPlatform({ type: "gha", attrs: {} }, platform).attrs.scope, "buildkit-linux-arm64");
    assert.equal(
      cacheForPlatform({ type: "local", attrs: { dest: "/d" } }, platform).attrs.tag,
      "latest-linux-arm64",
    );
  });
});

describe("the Solve request's cache", () => {
  const plan: BuildPlan = {
    contextDir: "/c",
    dockerfileDir: "/c",
    dockerfileName: "Dockerfile",
    buildArgs: {},
    labels: {},
    platforms: [],
    noCache: false,
    noCacheFilters: [],
    allow: [],
    namedContexts: [],
    addHosts: [],
    network: "default",
    ulimits: [],
    pull: false,
  };

  it("sends the imports in CacheOptions and to the frontend as cache-imports, the exports in CacheOptions", () => {
    const imports = [{ type: "registry", attrs: { ref: "r/c" } }];
    const exports = [{ type: "registry", attrs: { ref: "r/c", mode: "max" } }];
    const request = solveRequest({ plan, exporters: [], attestations: {}, cache: { imports, exports } });
    assert.deepEqual(request.cacheImports, imports);
    assert.deepEqual(request.cacheExports, exports);
    assert.equal(request.frontendAttrs["cache-imports"], '[{"Type":"registry","Attrs":{"ref":"r/c"}}]');
  });

  it("serves a local cache's directory through the content store under the id the runner asks for", () => {
    const exports = [{ type: "local", attrs: { dest: "/cache" } }];
    const request = solveRequest({ plan, exporters: [], attestations: {}, cache: { imports: [], exports } });
    assert.deepEqual(request.cacheStores, { "local:/cache": "/cache" });
    assert.equal(request.frontendAttrs["cache-imports"], undefined);
  });
});
