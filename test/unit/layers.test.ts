// The imports of src/ point one way: adapters (src/github, src/cli) → job (src/job) → runner,
// outputs, report, credentials → the shared modules (errors, values, deadline, version,
// libraries) → the client library (src/buildkit). Read from the import statements themselves, so that it stays so.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..");
const SRC = join(ROOT, "src");

/** Each unit of the layering and its layer: a unit may import its own layer's units and lower ones. */
const LAYERS: Array<[layer: number, units: string[]]> = [
  [0, ["buildkit"]],
  [1, ["errors.ts", "values.ts", "deadline.ts", "version.ts", "libraries.ts"]],
  [2, ["runner", "outputs", "report", "credentials"]],
  [3, ["job"]],
  [4, ["github", "cli"]],
];
const LAYER = new Map(LAYERS.flatMap(([layer, units]) => units.map((unit) => [unit, layer] as const)));

interface Import {
  from: string;
  /** A path relative to src/ for our modules, else the package's name. */
  to: string;
  internal: boolean;
}

function sourceFiles(): string[] {
  return readdirSync(SRC, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts") && !file.startsWith("buildkit/proto/"))
    .map((file) => file.split("\\").join("/"))
    .sort();
}

function importsOf(file: string): Import[] {
  const text = readFileSync(join(SRC, file), "utf8");
  const specifiers = [
    ...text.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+"([^"]+)"/gm),
    ...text.matchAll(/^import\s+"([^"]+)"/gm),
    ...text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g),
  ].map((match) => match[1]!);
  return specifiers.map((specifier) => {
    if (!specifier.startsWith(".")) return { from: file, to: specifier, internal: false };
    const target = relative(SRC, resolve(dirname(join(SRC, file)), specifier)).replace(/\.js$/, ".ts");
    return { from: file, to: target, internal: true };
  });
}

/** The unit of a file: its top folder under src/, or the file itself at the top. */
function unitOf(file: string): string {
  return file.split("/")[0]!;
}

const FILES = sourceFiles();
const IMPORTS = FILES.flatMap(importsOf);

describe("the layers of src/", () => {
  it("knows the layer of every file", () => {
    for (const file of FILES) assert.ok(LAYER.has(unitOf(file)), `${file} is in no layer`);
  });

  it("imports only from the same layer or a lower one", () => {
    const wrong = IMPORTS.filter(
      (edge) => edge.internal && LAYER.get(unitOf(edge.to))! > LAYER.get(unitOf(edge.from))!,
    ).map((edge) => `${edge.from} → ${edge.to}`);
    none(wrong);
  });

  it("keeps the two adapters apart", () => {
    const crossing = IMPORTS.filter(
      (edge) => edge.internal && LAYER.get(unitOf(edge.from)) === 4 && unitOf(edge.to) !== unitOf(edge.from),
    ).filter((edge) => LAYER.get(unitOf(edge.to)) === 4);
    none(crossing.map((edge) => `${edge.from} → ${edge.to}`));
  });

  it("has no cycle between units", () => {
    const graph = new Map<string, Set<string>>();
    for (const edge of IMPORTS) {
      if (!edge.internal || unitOf(edge.from) === unitOf(edge.to)) continue;
      if (!graph.has(unitOf(edge.from))) graph.set(unitOf(edge.from), new Set());
      graph.get(unitOf(edge.from))!.add(unitOf(edge.to));
    }
    none(cycles(graph));
  });

  it("has no cycle between modules", () => {
    const graph = new Map<string, Set<string>>();
    for (const edge of IMPORTS) {
      if (!edge.internal) continue;
      if (!graph.has(edge.from)) graph.set(edge.from, new Set());
      graph.get(edge.from)!.add(edge.to);
    }
    none(cycles(graph));
  });

  it("uses the client library only through its public entry outside it", () => {
    const reaching = IMPORTS.filter(
      (edge) =>
        edge.internal &&
        unitOf(edge.from) !== "buildkit" &&
        unitOf(edge.to) === "buildkit" &&
        edge.to !== "buildkit/index.ts",
    ).map((edge) => `${edge.from} → ${edge.to}`);
    none(reaching);
  });

  // The toolkit is a bundle of its own, loaded on first use: anywhere else in the adapter, an
  // @actions/* import would weigh on every step's start.
  it("imports @actions/* only in the GitHub adapter's toolkit", () => {
    const outside = IMPORTS.filter(
      (edge) => edge.to.startsWith("@actions/") && edge.from !== "github/toolkit.ts",
    );
    none(outside.map((edge) => `${edge.from} → ${edge.to}`));
  });
});

/** No finding; the message lists them, one a line. */
function none(findings: string[]): void {
  assert.equal(findings.join("\n"), "");
}

/** Each cycle once, as the path that closes it. */
function cycles(graph: Map<string, Set<string>>): string[] {
  const found: string[] = [];
  const state = new Map<string, "open" | "done">();
  const visit = (node: string, path: string[]) => {
    state.set(node, "open");
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") found.push([...path.slice(path.indexOf(next)), node, next].join(" → "));
      else if (!state.has(next)) visit(next, [...path, node]);
    }
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node, []);
  return found;
}
