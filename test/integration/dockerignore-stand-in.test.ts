// The context's .dockerignore served beside the Dockerfile as `<Dockerfile>.dockerignore`
// (src/job/solve-request.ts): the frontend then has the patterns with the Dockerfile and leaves
// out its own transfer of .dockerignore. Each build here exports the context it got (COPY . /)
// and must equal what buildctl, which sends no stand-in, exports for the same directories; the
// log tells whether the frontend still fetched .dockerignore itself.
import { beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { connectionFlags, runnerUnderTest, type RunnerUnderTest } from "../harness/env.js";
import { buildctlBuild } from "../helpers/buildctl.js";
import { CLI_BUNDLE, runProcess, type ProcessResult } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

const MINUTE = 60_000;
/** The step the frontend logs when it fetches the context's .dockerignore in a transfer of its own. */
const OWN_TRANSFER = "[internal] load .dockerignore";

let runner: RunnerUnderTest;
beforeAll(() => {
  runner = runnerUnderTest();
});

function writeFiles(root: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
}

/** Every file under `dir` with its content, by relative path, sorted. */
function filesIn(dir: string): string[] {
  // Built here, not by readdirSync's array: an array of Node's own realm is not deepEqual to one of the test's.
  const files: string[] = [];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.push(`${relative(dir, path)}: ${readFileSync(path, "utf8")}`);
  }
  return files.sort();
}

function logOf(result: ProcessResult, who: string): string {
  assert.equal(result.code, 0, `${who} failed:\n${result.stderr.slice(-3000)}`);
  return result.stdout + result.stderr;
}

interface Exported {
  files: string[];
  log: string;
}

/** Our CLI's build of `context` (Dockerfile `file` inside `dockerfileDir`), its context exported. */
async function ours(context: string, dockerfileDir: string, file: string): Promise<Exported> {
  const out = tempDir("rb-stand-in-ours-");
  const result = await runProcess(
    process.execPath,
    [
      CLI_BUNDLE,
      "build",
      ...connectionFlags(runner),
      "--progress",
      "plain",
      "--file",
      join(dockerfileDir, file),
      "--output",
      `type=local,dest=${out}`,
      context,
    ],
    { timeoutMs: 3 * MINUTE },
  );
  return { log: logOf(result, "our CLI"), files: filesIn(out) };
}

/** buildctl's build of the same, the reference. */
async function reference(context: string, dockerfileDir: string, file: string): Promise<Exported> {
  const out = tempDir("rb-stand-in-buildctl-");
  const result = await buildctlBuild(
    runner,
    context,
    ["--opt", `filename=${file}`, "--progress", "plain", "--output", `type=local,dest=${out}`],
    { dockerfileDir, timeoutMs: 3 * MINUTE },
  );
  return { log: logOf(result, "buildctl"), files: filesIn(out) };
}

const EXPORT_CONTEXT = "FROM scratch\nCOPY . /\n";

describe("the context's .dockerignore beside the Dockerfile", () => {
  it(
    "applies .dockerignore's patterns, exceptions included, without the frontend's own transfer of it",
    async () => {
      const context = tempDir("rb-stand-in-");
      writeFiles(context, {
        Dockerfile: EXPORT_CONTEXT,
        ".dockerignore": "# generated\n*.log\n!keep.log\nsecret/\nDockerfile\n",
        "app.txt": "app\n",
        "debug.log": "left out\n",
        "keep.log": "kept by the exception\n",
        "secret/key": "left out\n",
        "src/main.txt": "main\n",
      });
      const built = await ours(context, context, "Dockerfile");
      const expected = await reference(context, context, "Dockerfile");
      assert.deepEqual(built.files, expected.files);
      assert.deepEqual(built.files, [
        ".dockerignore: # generated\n*.log\n!keep.log\nsecret/\nDockerfile\n",
        "app.txt: app\n",
        "keep.log: kept by the exception\n",
        "src/main.txt: main\n",
      ]);
      // The stand-in is only beside the Dockerfile, for the frontend: never in the context.
      assert.ok(!built.files.some((line) => line.startsWith("Dockerfile.dockerignore")));
      assert.ok(!built.log.includes(OWN_TRANSFER), built.log);
      assert.ok(expected.log.includes(OWN_TRANSFER), "buildctl's build fetches .dockerignore itself");
    },
    5 * MINUTE,
  );

  it(
    "gives a Dockerfile elsewhere, under another name, the context's .dockerignore",
    async () => {
      const context = tempDir("rb-stand-in-context-");
      const dockerfileDir = tempDir("rb-stand-in-dockerfile-");
      writeFiles(context, { ".dockerignore": "*.tmp\n", "a.txt": "a\n", "b.tmp": "left out\n" });
      writeFiles(dockerfileDir, { "app.Dockerfile": EXPORT_CONTEXT, "not-context.txt": "elsewhere\n" });
      const built = await ours(context, dockerfileDir, "app.Dockerfile");
      const expected = await reference(context, dockerfileDir, "app.Dockerfile");
      assert.deepEqual(built.files, expected.files);
      assert.deepEqual(built.files, [".dockerignore: *.tmp\n", "a.txt: a\n"]);
      assert.ok(!built.log.includes(OWN_TRANSFER), built.log);
    },
    5 * MINUTE,
  );

  it(
    "stands in an empty file where the context has no .dockerignore: everything is sent",
    async () => {
      const context = tempDir("rb-stand-in-none-");
      writeFiles(context, { Dockerfile: EXPORT_CONTEXT, "a.log": "a\n", "sub/b.txt": "b\n" });
      const built = await ours(context, context, "Dockerfile");
      const expected = await reference(context, context, "Dockerfile");
      assert.deepEqual(built.files, expected.files);
      assert.deepEqual(built.files, ["Dockerfile: FROM scratch\nCOPY . /\n", "a.log: a\n", "sub/b.txt: b\n"]);
      assert.ok(!built.log.includes(OWN_TRANSFER), built.log);
    },
    5 * MINUTE,
  );

  it(
    "leaves a Dockerfile.dockerignore of the user's own to win over .dockerignore, as the frontend has it",
    async () => {
      const context = tempDir("rb-stand-in-own-");
      writeFiles(context, {
        Dockerfile: EXPORT_CONTEXT,
        ".dockerignore": "a.txt\n",
        "Dockerfile.dockerignore": "b.txt\nDockerfile*\n",
        "a.txt": "a\n",
        "b.txt": "b\n",
      });
      const built = await ours(context, context, "Dockerfile");
      const expected = await reference(context, context, "Dockerfile");
      assert.deepEqual(built.files, expected.files);
      assert.deepEqual(built.files, [".dockerignore: a.txt\n", "a.txt: a\n"]);
    },
    5 * MINUTE,
  );

  it(
    "leaves a .dockerignore that is a symlink to the frontend's own transfer",
    async () => {
      const context = tempDir("rb-stand-in-link-");
      writeFiles(context, {
        Dockerfile: EXPORT_CONTEXT,
        "patterns/ignore": "*.log\n",
        "a.log": "a\n",
        "b.txt": "b\n",
      });
      symlinkSync("patterns/ignore", join(context, ".dockerignore"));
      const built = await ours(context, context, "Dockerfile");
      const expected = await reference(context, context, "Dockerfile");
      assert.deepEqual(built.files, expected.files);
      assert.ok(built.log.includes(OWN_TRANSFER), built.log);
    },
    5 * MINUTE,
  );
});
