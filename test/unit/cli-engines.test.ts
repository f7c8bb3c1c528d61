// The CLI promises Node 20 (package.json's engines). Its bundle carries the packages that
// src/cli/main.ts reaches through our imports, and what they depend on: none of them may ask for
// a newer Node. (npm ci warns about two that do, @bufbuild/protoc-gen-es, which only `npm run
// generate` runs, and content-type, in the action's bundle through @actions/artifact, which runs
// on Node 24; this test keeps them out of the CLI.)
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import semver from "semver";

const ROOT = join(import.meta.dirname, "..", "..");
const SRC = join(ROOT, "src");

interface Manifest {
  name: string;
  engines?: { node?: string };
  dependencies?: Record<string, string>;
}

/** The packages our modules reached from the entry import, by name. */
function packagesReached(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    const specifiers = [
      ...text.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+"([^"]+)"/gm),
      ...text.matchAll(/^import\s+"([^"]+)"/gm),
      ...text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g),
    ].map((match) => match[1]!);
    for (const specifier of specifiers) {
      if (specifier.startsWith(".")) {
        const target = resolve(dirname(file), specifier);
        if (target.endsWith(".js")) pending.push(target.replace(/\.js$/, ".ts"));
        continue;
      }
      if (specifier.startsWith("node:") || builtinModules.includes(specifier)) continue;
      const parts = specifier.split("/");
      packages.add(specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!);
    }
  }
  return packages;
}

/** A package's manifest as node resolves it from a directory: the nearest node_modules up. */
function manifestFrom(dir: string, name: string): { manifest: Manifest; dir: string } {
  for (let at = dir; ; at = dirname(at)) {
    const candidate = join(at, "node_modules", name, "package.json");
    if (existsSync(candidate)) {
      return { manifest: JSON.parse(readFileSync(candidate, "utf8")) as Manifest, dir: dirname(candidate) };
    }
    assert.notEqual(dirname(at), at, `${name} is installed (npm ci)`);
  }
}

describe("the CLI's bundle", () => {
  it("carries no package that needs a Node newer than 20", () => {
    const direct = packagesReached(join(SRC, "cli", "main.ts"));
    assert.ok(!["@actions/core", "@actions/artifact", "@actions/cache"].some((name) => direct.has(name)));
    const needsNewer: string[] = [];
    const pending = [...direct].map((name) => ({ name, from: ROOT }));
    const seen = new Set<string>();
    while (pending.length > 0) {
      const { name, from } = pending.pop()!;
      const { manifest, dir } = manifestFrom(from, name);
      if (seen.has(dir)) continue;
      seen.add(dir);
      const range = manifest.engines?.node;
      if (range && !semver.intersects(range, "20.x")) {
        needsNewer.push(`${relative(ROOT, dir)} (node ${range})`);
      }
      for (const dependency of Object.keys(manifest.dependencies ?? {})) {
        pending.push({ name: dependency, from: dir });
      }
    }
    assert.deepEqual(needsNewer, []);
    assert.ok(seen.size >= direct.size);
  });
});
