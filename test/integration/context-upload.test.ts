// Proves the context upload (our FileSync sender) against the real runner: a Dockerfile step
// prints a manifest of the context as the runner sees it (path, type, mode, mtime, owner, size
// and sha256 of regular files, symlink targets, device numbers, hard link groups). It must equal
// the same manifest computed here from the directory on disk, with the .dockerignore applied by
// hand, and the manifest of the same context uploaded by buildctl, the reference client.
import { beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  closeSync,
  copyFileSync,
  createReadStream,
  ftruncateSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { connectionFlags, runnerUnderTest, type RunnerUnderTest } from "../harness/env.js";
import { buildctlBuild } from "../helpers/buildctl.js";
import { CLI_BUNDLE, runProcess, type ProcessResult } from "../helpers/cli.js";
import { BUSYBOX } from "../helpers/contexts.js";
import { tempDir } from "../helpers/temp.js";

let runner: RunnerUnderTest;
let base: string;
beforeAll(() => {
  runner = runnerUnderTest();
  base = tempDir("rb-upload-");
});

// ---------------------------------------------------------------------------------------------
// The manifest, as the runner computes it (a busybox shell script in the context) and as we do.

/** Written beside the manifest script: the local manifest, so the runner can print a diff. */
const EXPECTED_FILE = ".rb-expected-manifest";
/** Longer manifests are summarised (count and sha256) only: BuildKit clips step logs. */
const PRINTED_LINES_MAX = 500;

const MANIFEST_SCRIPT = `# One line per context entry: path|type|mode|mtime|owner|detail|hard link group, sorted bytewise.
set -eu
export LC_ALL=C TZ=UTC0
cd /ctx
out=/tmp/rb-manifest
mkdir -p "$out"
expected=./${EXPECTED_FILE}
find . -mindepth 1 ! -path "$expected" -exec stat -c '%n|%F|%a|%y|%u:%g|%s|%i|%h|%t:%T' {} + >"$out/stat"
find . -type f ! -path "$expected" -exec sha256sum {} + >"$out/sums"
find . -type l -exec sh -c 'for p do printf "%s|%s\\n" "$p" "$(readlink "$p")"; done' sh {} + >"$out/links"
awk -F'|' '
  FILENAME ~ /sums$/ { sum[substr($0, 67)] = substr($0, 1, 64); next }
  FILENAME ~ /links$/ { link[$1] = substr($0, length($1) + 2); next }
  {
    n++; kind = $2
    if (kind ~ /^regular/) kind = "file"
    else if (kind == "directory") kind = "dir"
    else if (kind == "symbolic link") kind = "symlink"
    else if (kind == "character special file") kind = "chardev"
    else if (kind == "block special file") kind = "blockdev"
    detail = ""
    if (kind == "file") detail = $6 " " sum[$1]
    else if (kind == "symlink") detail = link[$1]
    else if (kind == "chardev" || kind == "blockdev") detail = $9
    line[n] = substr($1, 3) "|" kind "|" $3 "|" $4 "|" $5 "|" detail
    if (kind == "file" && $8 > 1) {
      ino[n] = $7; count[$7]++
      if (!($7 in first) || $1 < first[$7]) first[$7] = $1
    }
  }
  END {
    for (i = 1; i <= n; i++) {
      group = ""
      if ((i in ino) && count[ino[i]] > 1) group = substr(first[ino[i]], 3)
      print line[i] "|" group
    }
  }
' "$out/sums" "$out/links" "$out/stat" | sort >"$out/manifest"
[ -f "$expected" ] && cp "$expected" "$out/expected" || : >"$out/expected"
if [ "\${DIR_MTIMES:-1}" = 0 ]; then
  for f in "$out/manifest" "$out/expected"; do
    awk -F'|' -v OFS='|' '$2 == "dir" { $4 = "-" } { print }' "$f" | sort >"$f.blanked"
    mv "$f.blanked" "$f"
  done
fi
set -- $(wc -l <"$out/manifest") $(sha256sum <"$out/manifest")
echo "==rb-manifest-begin=="
if [ "$1" -le ${PRINTED_LINES_MAX} ]; then cat "$out/manifest"; fi
echo "==rb-manifest-end== $1 $2"
if [ -f "$expected" ] && ! cmp -s "$out/expected" "$out/manifest"; then
  echo "==rb-manifest-diff=="
  diff "$out/expected" "$out/manifest" | head -n 80
fi
`;

/**
 * FROM scratch with busybox; the manifest step reads the context through a bind mount.
 * DIR_MTIMES=0 leaves directory mtimes out of the comparison, for updates: when BuildKit syncs a
 * context into a snapshot it already holds (same shared key), it restores the mtimes of the
 * directories it creates, but those that exist keep an earlier time or get the time of the sync
 * as changes are written into them. buildctl uses one shared key for every directory, so its
 * uploads are such updates once it has built any context on the runner.
 */
const DOCKERFILE = [
  "FROM scratch",
  "COPY busybox /bin/busybox",
  'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
  "ARG DIR_MTIMES=1",
  'RUN --mount=type=bind,target=/ctx ["/bin/sh", "/ctx/manifest.sh"]',
  "",
].join("\n");

interface Manifest {
  /** The lines, when there are few enough to be printed. */
  lines: string[] | undefined;
  count: number;
  sha256: string;
  /** The runner's diff against the local manifest written into the context; empty when equal. */
  diff: string[];
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** `stat -c %y` in UTC: 2026-01-02 03:04:05.123456789 +0000. */
function formatMtime(ns: bigint): string {
  const iso = new Date(Number(ns / 1_000_000_000n) * 1000).toISOString();
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, "0");
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${fraction} +0000`;
}

async function sha256File(path: string, size: bigint): Promise<string> {
  const hash = createHash("sha256");
  if (size < 64n * 1024n * 1024n) return hash.update(readFileSync(path)).digest("hex");
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) hash.update(chunk);
  return hash.digest("hex");
}

/**
 * The manifest of `root` as the runner should see it. `ignored` lists, by hand, what the
 * .dockerignore leaves out: an entry and everything under it. Owners are 0:0 whatever they are
 * on disk: the reference client resets them, and so must we.
 */
async function localManifest(root: string, ignored: readonly string[] = []): Promise<string[]> {
  const isIgnored = (path: string) => ignored.some((entry) => path === entry || path.startsWith(`${entry}/`));
  const entries: Array<{ path: string; stats: import("node:fs").BigIntStats }> = [];
  const visit = (relativeDir: string) => {
    for (const name of readdirSync(join(root, relativeDir))) {
      const path = relativeDir ? `${relativeDir}/${name}` : name;
      if (path === EXPECTED_FILE || isIgnored(path)) continue;
      const stats = lstatSync(join(root, path), { bigint: true });
      entries.push({ path, stats });
      if (stats.isDirectory()) visit(path);
    }
  };
  visit("");
  const groups = new Map<string, string[]>();
  for (const { path, stats } of entries) {
    if (!stats.isFile() || stats.nlink < 2n) continue;
    const key = `${stats.dev}:${stats.ino}`;
    groups.set(key, [...(groups.get(key) ?? []), path]);
  }
  const lines: string[] = [];
  for (const { path, stats } of entries) {
    let kind: string;
    let detail = "";
    let group = "";
    if (stats.isFile()) {
      kind = "file";
      detail = `${stats.size} ${await sha256File(join(root, path), stats.size)}`;
      const members = groups.get(`${stats.dev}:${stats.ino}`) ?? [];
      if (members.length > 1) group = members.sort(byteOrder)[0]!;
    } else if (stats.isDirectory()) kind = "dir";
    else if (stats.isSymbolicLink()) {
      kind = "symlink";
      detail = readlinkSync(join(root, path));
    } else if (stats.isFIFO()) kind = "fifo";
    else if (stats.isCharacterDevice() || stats.isBlockDevice()) {
      kind = stats.isCharacterDevice() ? "chardev" : "blockdev";
      // Linux's dev_t layout, printed in hex as `stat -c %t:%T` does.
      const major = ((stats.rdev >> 8n) & 0xfffn) | ((stats.rdev >> 32n) & ~0xfffn);
      const minor = (stats.rdev & 0xffn) | ((stats.rdev >> 12n) & ~0xffn);
      detail = `${major.toString(16)}:${minor.toString(16)}`;
    } else throw new Error(`unexpected file type at ${path}`);
    const mode = (Number(stats.mode) & 0o7777).toString(8);
    lines.push([path, kind, mode, formatMtime(stats.mtimeNs), "0:0", detail, group].join("|"));
  }
  return lines.sort(byteOrder);
}

function summary(lines: string[]): { count: number; sha256: string } {
  const text = lines.length === 0 ? "" : `${lines.join("\n")}\n`;
  return { count: lines.length, sha256: createHash("sha256").update(text).digest("hex") };
}

/** Adds the Dockerfile, the manifest script, busybox and the expected manifest to `root`. */
async function prepareContext(root: string, ignored: readonly string[] = []): Promise<string[]> {
  writeFileSync(join(root, "Dockerfile"), DOCKERFILE);
  writeFileSync(join(root, "manifest.sh"), MANIFEST_SCRIPT);
  copyFileSync(BUSYBOX, join(root, "busybox"));
  return writeExpected(root, ignored);
}

async function writeExpected(root: string, ignored: readonly string[] = []): Promise<string[]> {
  const lines = await localManifest(root, ignored);
  writeFileSync(join(root, EXPECTED_FILE), lines.length === 0 ? "" : `${lines.join("\n")}\n`);
  return lines;
}

/** The manifest step's output in a plain log: `#N 0.123 text` lines between the markers. */
function manifestFromLog(log: string): Manifest {
  const begin = /^#(\d+) \d+\.\d+ ==rb-manifest-begin==$/m.exec(log);
  assert.ok(begin, `no manifest in the log:\n${log.slice(-4000)}`);
  const stepLines = [...log.matchAll(new RegExp(`^#${begin[1]} \\d+\\.\\d+ (.*)$`, "gm"))].map(
    (match) => match[1]!,
  );
  const start = stepLines.indexOf("==rb-manifest-begin==");
  const end = stepLines.findIndex((line) => line.startsWith("==rb-manifest-end== "));
  assert.ok(end > start, `no end marker in the log:\n${log.slice(-4000)}`);
  const [, count, sha256] = stepLines[end]!.split(" ");
  const diffAt = stepLines.indexOf("==rb-manifest-diff==");
  return {
    lines: Number(count) <= PRINTED_LINES_MAX ? stepLines.slice(start + 1, end) : undefined,
    count: Number(count),
    sha256: sha256!,
    diff: diffAt < 0 ? [] : stepLines.slice(diffAt + 1),
  };
}

/** The manifest with directory mtimes blanked, as the runner prints it with DIR_MTIMES=0. */
function withoutDirMtimes(lines: string[]): string[] {
  return lines
    .map((line) => {
      const fields = line.split("|");
      if (fields[1] === "dir") fields[3] = "-";
      return fields.join("|");
    })
    .sort(byteOrder);
}

/** Asserts that the runner saw exactly the local manifest. */
function assertSameAsLocal(seen: Manifest, local: string[], client: string, dirMtimes = true): void {
  const expected = dirMtimes ? local : withoutDirMtimes(local);
  assert.deepEqual(seen.diff, [], `${client}: the runner's context differs from the local one (diff)`);
  if (seen.lines !== undefined && expected.length <= PRINTED_LINES_MAX) {
    assert.deepEqual(seen.lines, expected, `${client}: the runner's context differs from the local one`);
  }
  assert.deepEqual({ count: seen.count, sha256: seen.sha256 }, summary(expected), client);
}

// ---------------------------------------------------------------------------------------------
// The two clients.

const MINUTE = 60_000;

interface BuildOptions {
  /** Whether the manifest keeps directory mtimes (see DOCKERFILE). */
  dirMtimes?: boolean;
  timeoutMs?: number;
}

/** Both clients' builds must succeed; their log (stderr) is what the tests read. */
function logOfSuccess(result: ProcessResult, client: string): string {
  assert.equal(
    result.code,
    0,
    `${client} failed (${result.signal ?? result.code}):\n${result.stderr.slice(-4000)}`,
  );
  return result.stderr;
}

async function buildWithOurs(context: string, options: BuildOptions = {}): Promise<string> {
  const result = await runProcess(
    process.execPath,
    [
      CLI_BUNDLE,
      "build",
      ...connectionFlags(runner),
      "--no-cache",
      ...(options.dirMtimes === false ? ["--build-arg", "DIR_MTIMES=0"] : []),
      context,
    ],
    { timeoutMs: options.timeoutMs ?? 5 * MINUTE },
  );
  return logOfSuccess(result, "our CLI");
}

/** buildctl reuses the snapshot of the last context it sent: directory mtimes are left out. */
async function buildWithBuildctl(context: string, options: BuildOptions = {}): Promise<string> {
  const result = await buildctlBuild(
    runner,
    context,
    ["--opt", "build-arg:DIR_MTIMES=0", "--progress", "plain", "--no-cache"],
    { timeoutMs: options.timeoutMs ?? 5 * MINUTE },
  );
  return logOfSuccess(result, "buildctl");
}

/** Bytes BuildKit received for the context: the last "transferring context: 1.23kB" of its load step. */
function contextTransferBytes(log: string): number {
  const step = /^#(\d+) \[internal\] load build context$/m.exec(log)?.[1];
  assert.ok(step, `no context load step in the log:\n${log.slice(-4000)}`);
  const sizes = [
    ...log.matchAll(new RegExp(`^#${step} transferring context: ([\\d.]+)(B|kB|MB|GB|TB)\\b`, "gm")),
  ];
  assert.ok(sizes.length > 0, `no transfer size for step #${step}:\n${log.slice(-4000)}`);
  const [, value, unit] = sizes.at(-1)!;
  const scale: Record<string, number> = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };
  return Number(value) * scale[unit!]!;
}

async function timed<T>(work: () => Promise<T>): Promise<[T, string]> {
  const start = performance.now();
  const value = await work();
  return [value, `${((performance.now() - start) / 1000).toFixed(1)} s`];
}

// ---------------------------------------------------------------------------------------------
// Contexts.

function write(root: string, path: string, content: string | Buffer, mode?: number): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
  if (mode !== undefined) chmodSync(join(root, path), mode);
}

/** Writes each of `files` (path to content) under `root`. */
function writeFiles(root: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) write(root, path, content);
}

const DOCKERIGNORE = `# Comments and blank lines are not patterns

**/*.log
!keep/**/*.log
build/
!build/dist/app.js
*.tmp
**/node_modules
docs/**/draft-*
secret?.txt
# !secret1.txt: commented out, so secret1.txt stays ignored
`;

/** What DOCKERIGNORE leaves out, worked out by hand (an entry and everything under it). */
const IGNORED = [
  "app.log", // **/*.log
  "dir/sub/trace.log",
  "hard/a-ignored.log",
  "build/cache.bin", // build/, whose dist/app.js is an exception: build and build/dist stay
  "build/dist/other.js",
  "build/empty",
  "scratch.tmp", // *.tmp, at the root only: dir/nested.tmp stays
  "node_modules", // **/node_modules
  "dir/node_modules",
  "docs/draft-1.md", // docs/**/draft-*, where ** can be no directory at all
  "docs/a/b/draft-2.md",
  "secret1.txt", // secret?.txt: secret10.txt stays
];

/** Every kind of entry, unusual modes and names, links out of the context, and a .dockerignore. */
function makeKindsContext(): { root: string; outside: string } {
  const parent = mkdtempSync(join(base, "kinds-"));
  const root = join(parent, "context");
  const outside = join(parent, "outside", "secret.txt");
  write(parent, "outside/secret.txt", "outside the context: never uploaded\n");
  mkdirSync(root);
  // Plain files, by what DOCKERIGNORE does with them.
  writeFiles(root, {
    ".dockerignore": DOCKERIGNORE,
    "regular.txt": "hello\n",
    "empty.txt": "",
    "owned-by-1234.txt": "someone else's\n",
    "with space.txt": "spaces\n",
    "naïve – ünïcödé 日本語.txt": "non-ASCII\n",
    "dir with spaces/file name.txt": "spaces in the directory too\n",
    "dir/sub/deep.txt": "deep\n",
    "dir/nested.tmp": "kept: *.tmp is for the root only\n",
    "docs/a/b/notes.md": "kept\n",
    "docs/final.md": "kept\n",
    "secret10.txt": "kept\n",
    "keep/a.log": "re-included\n",
    "keep/deep/b.log": "re-included\n",
    "build/dist/app.js": "re-included\n",
  });
  for (const path of [
    "dir/sub/trace.log",
    "dir/node_modules/x.js",
    "app.log",
    "build/cache.bin",
    "build/dist/other.js",
    "scratch.tmp",
    "node_modules/pkg/index.js",
    "docs/draft-1.md",
    "docs/a/b/draft-2.md",
    "secret1.txt",
  ])
    write(root, path, "ignored\n");
  write(root, "exec.sh", "#!/bin/sh\necho hi\n", 0o755);
  write(root, "private.key", "key\n", 0o600);
  write(root, "readonly.txt", "read only\n", 0o444);
  write(root, "setuid-bin", "setuid\n", 0o4755);
  write(root, "setgid-bin", "setgid\n", 0o2755);
  chownSync(join(root, "owned-by-1234.txt"), 1234, 2345);
  mkdirSync(join(root, "empty-dir"));
  mkdirSync(join(root, "dir/empty"));
  mkdirSync(join(root, "build/empty"));
  write(root, "private-dir/file", "in a 0700 directory\n");
  chmodSync(join(root, "private-dir"), 0o700);
  mkdirSync(join(root, "sticky-dir"));
  chmodSync(join(root, "sticky-dir"), 0o1777);
  write(root, "setgid-dir/file", "in a setgid directory\n");
  chmodSync(join(root, "setgid-dir"), 0o2775);
  mkdirSync(join(root, "links"));
  symlinkSync("../regular.txt", join(root, "links/relative"));
  symlinkSync("/etc/passwd", join(root, "links/absolute"));
  symlinkSync("../no/such/file", join(root, "links/dangling"));
  symlinkSync("../../outside/secret.txt", join(root, "links/outside"));
  symlinkSync(outside, join(root, "links/absolute-outside"));
  symlinkSync("../dir", join(root, "links/to-dir"));
  symlinkSync("../app.log", join(root, "links/to-ignored"));
  write(root, "hard/original.txt", "one inode, three names\n");
  linkSync(join(root, "hard/original.txt"), join(root, "hard/same-dir.txt"));
  linkSync(join(root, "hard/original.txt"), join(root, "dir/other-dir.txt"));
  // The first name of this inode is ignored: the others must still arrive, linked together.
  write(root, "hard/a-ignored.log", "first name ignored\n");
  linkSync(join(root, "hard/a-ignored.log"), join(root, "hard/b-kept.txt"));
  linkSync(join(root, "hard/a-ignored.log"), join(root, "hard/c-kept.txt"));
  execFileSync("mkfifo", [join(root, "fifo")]);
  execFileSync("mknod", [join(root, "null-device"), "c", "1", "3"]);
  return { root, outside };
}

function entry(manifest: string[], path: string): string[] {
  const line = manifest.find((candidate) => candidate.startsWith(`${path}|`));
  assert.ok(line, `${path} is not in the runner's context`);
  return line.split("|");
}

// ---------------------------------------------------------------------------------------------

describe("context upload", () => {
  it(
    "sends every kind of entry as it is on disk, after .dockerignore, as buildctl does",
    async () => {
      const { root, outside } = makeKindsContext();
      const expected = await prepareContext(root, IGNORED);

      const ours = manifestFromLog(await buildWithOurs(root));
      assertSameAsLocal(ours, expected, "our upload");
      const reference = manifestFromLog(await buildWithBuildctl(root));
      assertSameAsLocal(reference, expected, "buildctl's upload", false);
      assert.deepEqual(withoutDirMtimes(ours.lines!), reference.lines);

      // The properties the manifest comparison proves, spelled out.
      const seen = ours.lines!;
      for (const path of IGNORED) {
        assert.ok(!seen.some((line) => line.startsWith(`${path}|`)), `${path} is ignored`);
      }
      for (const path of ["keep/a.log", "keep/deep/b.log", "build/dist/app.js", "dir/nested.tmp"]) {
        assert.equal(entry(seen, path)[1], "file", `${path} is re-included or never ignored`);
      }
      assert.equal(entry(seen, "build")[1], "dir");
      assert.equal(entry(seen, "empty-dir")[1], "dir");
      assert.equal(entry(seen, "links/outside")[5], "../../outside/secret.txt");
      assert.equal(entry(seen, "links/absolute-outside")[5], outside);
      assert.equal(entry(seen, "links/dangling")[1], "symlink");
      const outsideHash = createHash("sha256").update(readFileSync(outside)).digest("hex");
      assert.ok(!seen.some((line) => line.includes(outsideHash)), "no link was followed");
      assert.equal(entry(seen, "setuid-bin")[2], "4755");
      assert.equal(entry(seen, "setgid-dir")[2], "2775");
      assert.equal(entry(seen, "readonly.txt")[2], "444");
      assert.equal(entry(seen, "owned-by-1234.txt")[4], "0:0");
      assert.equal(entry(seen, "hard/same-dir.txt")[6], "dir/other-dir.txt");
      assert.equal(entry(seen, "hard/c-kept.txt")[6], "hard/b-kept.txt");
      assert.equal(entry(seen, "null-device")[5], "1:3");
      assert.equal(entry(seen, "naïve – ünïcödé 日本語.txt")[1], "file");
    },
    5 * MINUTE,
  );

  it(
    "sends a context of 10,000 small files as buildctl does",
    async () => {
      const root = mkdtempSync(join(base, "many-"));
      for (let i = 0; i < 10_000; i++) {
        const name = `d${String(Math.floor(i / 100)).padStart(2, "0")}/f${String(i).padStart(5, "0")}.txt`;
        write(root, name, `file ${i}\n`.repeat(1 + (i % 7)));
      }
      const expected = await prepareContext(root);
      assert.equal(expected.length, 10_000 + 100 + 3);

      const [ourLog, ourTime] = await timed(() => buildWithOurs(root, { timeoutMs: 10 * MINUTE }));
      assertSameAsLocal(manifestFromLog(ourLog), expected, "our upload");
      const [referenceLog, referenceTime] = await timed(() =>
        buildWithBuildctl(root, { timeoutMs: 10 * MINUTE }),
      );
      assertSameAsLocal(manifestFromLog(referenceLog), expected, "buildctl's upload", false);
      console.log(`10,000 files: our build ${ourTime}, buildctl's ${referenceTime}`);
    },
    15 * MINUTE,
  );

  it(
    "honours a 220-line real-world .dockerignore as buildctl does",
    async () => {
      const root = mkdtempSync(join(base, "python-project-"));
      writePythonProject(root);
      writeFileSync(join(root, ".dockerignore"), PYTHON_DOCKERIGNORE);
      assert.ok(PYTHON_DOCKERIGNORE.split("\n").length >= 220);
      await prepareContext(root);
      const ours = manifestFromLog(await buildWithOurs(root, { dirMtimes: false }));
      const reference = manifestFromLog(await buildWithBuildctl(root));
      assert.ok(ours.lines && reference.lines, "both manifests are printed in full");
      assert.deepEqual(withoutDirMtimes(ours.lines), reference.lines);
      // What the file says, spelled out: weights, caches and data are left out, sources kept.
      const paths = ours.lines.map((line) => line.split("|")[0]);
      for (const kept of [
        "models/yolo.py",
        "utils/general.py",
        "data/coco.yaml",
        "README.md",
        "requirements.txt",
      ]) {
        assert.ok(paths.includes(kept), `${kept} is sent`);
      }
      for (const left of [
        "yolov5s.pt",
        "runs/exp/results.csv",
        "utils/__pycache__/general.cpython-312.pyc",
        ".git/HEAD",
        "data/images/bus.jpg",
        "venv/bin/python",
        "build/lib/x.py",
      ]) {
        assert.ok(!paths.includes(left), `${left} is left out`);
      }
    },
    5 * MINUTE,
  );

  it(
    "honours a .dockerignore of 5,000 patterns as buildctl does",
    async () => {
      const root = mkdtempSync(join(base, "many-patterns-"));
      for (let i = 0; i < 60; i++) {
        write(root, `kept-${i}/file.txt`, `kept ${i}\n`);
        write(root, `ignored-${i}/file.txt`, `ignored ${i}\n`);
      }
      const patterns = Array.from({ length: 5_000 }, (_, i) => `ignored-${i}`);
      writeFileSync(join(root, ".dockerignore"), `${patterns.join("\n")}\n`);
      const ignored = Array.from({ length: 60 }, (_, i) => `ignored-${i}`);
      const expected = await prepareContext(root, ignored);
      const ours = manifestFromLog(await buildWithOurs(root));
      assertSameAsLocal(ours, expected, "our upload");
      const reference = manifestFromLog(await buildWithBuildctl(root));
      assertSameAsLocal(reference, expected, "buildctl's upload", false);
    },
    5 * MINUTE,
  );

  it(
    "sends a named context's 10,000 named files (as many followpaths) as buildctl does",
    async () => {
      const named = mkdtempSync(join(base, "named-many-"));
      const names = Array.from({ length: 10_000 }, (_, i) => `f${String(i).padStart(5, "0")}.txt`);
      for (const name of names) write(named, name, `${name}\n`);
      write(named, "not-named.txt", "left on this machine\n");
      const context = mkdtempSync(join(base, "named-user-"));
      copyFileSync(BUSYBOX, join(context, "busybox"));
      // Every file copied by name, 100 to a COPY (a Dockerfile line may not exceed 64 KiB): the
      // daemon asks for exactly these paths (followpaths), 10,000 of them in one request.
      const copies = Array.from(
        { length: 100 },
        (_, i) => `COPY --from=many ${names.slice(i * 100, (i + 1) * 100).join(" ")} /many/`,
      );
      const dockerfile = [
        "FROM scratch",
        "COPY busybox /bin/busybox",
        ...copies,
        'RUN ["/bin/busybox", "sh", "-c", "ls /many | wc -l; cat /many/f09999.txt"]',
        "",
      ].join("\n");
      writeFileSync(join(context, "Dockerfile"), dockerfile);
      const ours = await runProcess(
        process.execPath,
        [
          CLI_BUNDLE,
          "build",
          ...connectionFlags(runner),
          "--no-cache",
          "--progress",
          "plain",
          "--build-context",
          `many=${named}`,
          context,
        ],
        { timeoutMs: 5 * MINUTE },
      );
      const ourLog = logOfSuccess(ours, "our CLI");
      assert.match(ourLog, /^#\d+ \d+\.\d+ 10000$/m);
      assert.match(ourLog, /^#\d+ \d+\.\d+ f09999\.txt$/m);
      const reference = await buildctlBuild(
        runner,
        context,
        ["--local", `many=${named}`, "--opt", "context:many=local:many", "--progress", "plain", "--no-cache"],
        { timeoutMs: 5 * MINUTE },
      );
      const referenceLog = logOfSuccess(reference, "buildctl");
      assert.match(referenceLog, /^#\d+ \d+\.\d+ 10000$/m);
      // Only the named files travel: the transfer is the same size as buildctl's.
      const transfer = (log: string) => /transferring many: ([\d.]+\w+) [\d.]+s done$/m.exec(log)?.[1];
      assert.ok(transfer(ourLog), ourLog.slice(-3000));
      assert.equal(transfer(ourLog), transfer(referenceLog));
    },
    5 * MINUTE,
  );

  describe("a sparse file over 1 GiB", () => {
    it(
      "arrives with its size and content",
      async () => {
        const dir = tempDir("rb-upload-sparse-");
        const size = 2 ** 30 + 4099;
        const fd = openSync(join(dir, "sparse.bin"), "w");
        try {
          ftruncateSync(fd, size);
          // A few bytes here and there, one write across the 1 GiB mark, the last ones at the very end.
          for (const offset of [0, 12_345_678, 2 ** 29 + 1, 2 ** 30 - 3]) {
            writeSync(fd, Buffer.from(`data at ${offset}\n`), 0, undefined, offset);
          }
          writeSync(fd, Buffer.from("end\n"), 0, undefined, size - 4);
        } finally {
          closeSync(fd);
        }
        const stats = statSync(join(dir, "sparse.bin"));
        assert.equal(stats.size, size);
        assert.ok(stats.blocks * 512 < 2 ** 20, "the local file is sparse");
        const expected = await prepareContext(dir);

        const [log, time] = await timed(() => buildWithOurs(dir, { timeoutMs: 18 * MINUTE }));
        assertSameAsLocal(manifestFromLog(log), expected, "our upload");
        assert.match(entry(expected, "sparse.bin")[5]!, new RegExp(`^${size} [0-9a-f]{64}$`));
        console.log(`1 GiB sparse file: our build ${time}`);
      },
      20 * MINUTE,
    );
  });

  it("sends large files of random bytes whole, each packet's buffer reused only once it is sent", async () => {
    // Large files go in 1 MiB packets read into reused buffers and framed where they lie (no copy
    // in grpc-js): a buffer reused too early would show here as a wrong checksum.
    const root = mkdtempSync(join(base, "random-large-"));
    for (let i = 1; i <= 6; i++) write(root, `large/r${i}.bin`, randomBytes(i * 3 * 1024 * 1024 + i * 777));
    const expected = await prepareContext(root);
    const log = await buildWithOurs(root);
    assertSameAsLocal(manifestFromLog(log), expected, "our upload");
  });

  it("re-sends only what changed when the same context is built again", async () => {
    const root = mkdtempSync(join(base, "again-"));
    const fileSize = 16 * 1024;
    for (let i = 0; i < 400; i++)
      write(root, `files/f${String(i).padStart(3, "0")}.bin`, randomBytes(fileSize));
    symlinkSync("files/f000.bin", join(root, "link"));
    linkSync(join(root, "files/f001.bin"), join(root, "hardlink.bin"));
    const first = await prepareContext(root);
    const firstLog = await buildWithOurs(root);
    assertSameAsLocal(manifestFromLog(firstLog), first, "first build");
    const firstBytes = contextTransferBytes(firstLog);
    assert.ok(firstBytes >= 400 * fileSize, `the first build sends every file (${firstBytes} B)`);

    // One file rewritten (same size, a later mtime), one removed, one added, and the inode behind
    // the hard link rewritten in place, so that both of its names change.
    writeFileSync(join(root, "files/f001.bin"), "shorter content for both names\n");
    const changed = randomBytes(fileSize);
    write(root, "files/f123.bin", changed);
    const later = Date.now() / 1000 + 60;
    utimesSync(join(root, "files/f123.bin"), later, later);
    unlinkSync(join(root, "files/f200.bin"));
    write(root, "files/new.txt", "added between the builds\n");
    const second = await writeExpected(root);
    // An update of the snapshot the first build left: directory mtimes are left out (see DOCKERFILE).
    const secondLog = await buildWithOurs(root, { dirMtimes: false });
    const seen = manifestFromLog(secondLog);
    assertSameAsLocal(seen, second, "second build", false);
    const changedHash = createHash("sha256").update(changed).digest("hex");
    assert.equal(entry(seen.lines!, "files/f123.bin")[5], `${fileSize} ${changedHash}`);
    assert.ok(!seen.lines!.some((line) => line.startsWith("files/f200.bin|")), "the removed file is gone");
    assert.deepEqual(
      entry(seen.lines!, "hardlink.bin").slice(5),
      entry(seen.lines!, "files/f001.bin").slice(5),
      "both names of the rewritten inode show its new content, still linked",
    );

    const secondBytes = contextTransferBytes(secondLog);
    console.log(`context transfers: ${firstBytes} B, then ${secondBytes} B`);
    assert.ok(secondBytes >= fileSize, `the second build sends the changed file (${secondBytes} B)`);
    assert.ok(
      secondBytes < firstBytes / 10,
      `the second build sends much less than the first (${secondBytes} B after ${firstBytes} B)`,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// A Python project shaped like ultralytics/yolov5, and a .dockerignore of the kind such projects
// carry: sections copied from GitHub's gitignore templates, comments, negations and ** globs.

function writePythonProject(root: string): void {
  writeFiles(root, {
    "README.md": "# detector\n",
    "requirements.txt": "torch\n",
    "setup.cfg": "[metadata]\n",
    "models/yolo.py": "print('model')\n",
    "models/common.py": "print('common')\n",
    "models/hub/anchors.yaml": "anchors: []\n",
    "utils/general.py": "print('general')\n",
    "utils/__pycache__/general.cpython-312.pyc": "bytecode",
    "data/coco.yaml": "path: ../datasets/coco\n",
    "data/images/bus.jpg": "jpeg",
    "data/samples/one.png": "png",
    "yolov5s.pt": "weights",
    "export/model.onnx": "onnx",
    "runs/exp/results.csv": "epoch,loss\n",
    ".git/HEAD": "ref: refs/heads/master\n",
    ".idea/workspace.xml": "<xml/>",
    "venv/bin/python": "#!/bin/sh\n",
    "build/lib/x.py": "x = 1\n",
    "dist/pkg.whl": "wheel",
    "detector.egg-info/PKG-INFO": "Name: detector\n",
    ".coverage": "coverage",
    "htmlcov/index.html": "<html/>",
    ".pytest_cache/v/cache": "{}",
    "notebooks/.ipynb_checkpoints/a.ipynb": "{}",
    "logs/train.log": "log",
    "keep/important.log": "kept by a negation",
    "docs/_build/index.html": "<html/>",
    ".env": "SECRET=1\n",
    "wandb/run-1/files.txt": "wandb",
  });
}

const PYTHON_DOCKERIGNORE = [
  "# Repository-specific ----------------------------------------------------------------",
  ".git",
  ".cache",
  ".idea",
  "runs",
  "output",
  "coco",
  "storage.googleapis.com",
  "",
  "data/samples/*",
  "**/results*.csv",
  "*.jpg",
  "data/images",
  "",
  "# Neural network weights ---------------------------------------------------------------",
  "**/*.pt",
  "**/*.pth",
  "**/*.onnx",
  "**/*.engine",
  "**/*.mlmodel",
  "**/*.torchscript",
  "**/*.torchscript.pt",
  "**/*.tflite",
  "**/*.h5",
  "**/*.pb",
  "*_saved_model/",
  "*_web_model/",
  "*_openvino_model/",
  "*_paddle_model/",
  "",
  "# Below copied from .gitignore ---------------------------------------------------------",
  "",
  "# Byte-compiled / optimized / DLL files",
  "**/__pycache__/",
  "**/*.py[cod]",
  "*$py.class",
  "",
  "# C extensions",
  "*.so",
  "",
  "# Distribution / packaging",
  ".Python",
  "env/",
  "build/",
  "develop-eggs/",
  "dist/",
  "downloads/",
  "eggs/",
  ".eggs/",
  "lib/",
  "lib64/",
  "parts/",
  "sdist/",
  "var/",
  "wheels/",
  "*.egg-info/",
  "wandb/",
  ".installed.cfg",
  "*.egg",
  "MANIFEST",
  "",
  "# PyInstaller",
  "*.manifest",
  "*.spec",
  "",
  "# Installer logs",
  "pip-log.txt",
  "pip-delete-this-directory.txt",
  "",
  "# Unit test / coverage reports",
  "htmlcov/",
  ".tox/",
  ".nox/",
  ".coverage",
  ".coverage.*",
  "nosetests.xml",
  "coverage.xml",
  "*.cover",
  "*.py,cover",
  ".hypothesis/",
  ".pytest_cache/",
  "cover/",
  "",
  "# Translations",
  "*.mo",
  "*.pot",
  "",
  "# Django stuff:",
  "*.log",
  "!keep/*.log",
  "local_settings.py",
  "db.sqlite3",
  "db.sqlite3-journal",
  "",
  "# Flask stuff:",
  "instance/",
  ".webassets-cache",
  "",
  "# Scrapy stuff:",
  ".scrapy",
  "",
  "# Sphinx documentation",
  "docs/_build/",
  "",
  "# PyBuilder",
  ".pybuilder/",
  "target/",
  "",
  "# Jupyter Notebook",
  "**/.ipynb_checkpoints",
  "",
  "# IPython",
  "profile_default/",
  "ipython_config.py",
  "",
  "# pyenv",
  ".python-version",
  "",
  "# pipenv",
  "Pipfile.lock",
  "",
  "# poetry",
  "poetry.lock",
  "",
  "# pdm",
  ".pdm.toml",
  ".pdm-python",
  ".pdm-build/",
  "",
  "# PEP 582",
  "__pypackages__/",
  "",
  "# Celery stuff",
  "celerybeat-schedule",
  "celerybeat.pid",
  "",
  "# SageMath parsed files",
  "*.sage.py",
  "",
  "# Environments",
  ".env",
  ".venv",
  "venv*/",
  "ENV/",
  "env.bak/",
  "venv.bak/",
  "",
  "# Spyder project settings",
  ".spyderproject",
  ".spyproject",
  "",
  "# Rope project settings",
  ".ropeproject",
  "",
  "# mkdocs documentation",
  "/site",
  "",
  "# mypy",
  ".mypy_cache/",
  ".dmypy.json",
  "dmypy.json",
  "",
  "# Pyre type checker",
  ".pyre/",
  "",
  "# pytype static type analyzer",
  ".pytype/",
  "",
  "# Cython debug symbols",
  "cython_debug/",
  "",
  "# https://github.com/github/gitignore/blob/master/Global/macOS.gitignore -------------",
  "# General",
  ".DS_Store",
  ".AppleDouble",
  ".LSOverride",
  "",
  "# Icon must end with two \\r",
  "Icon",
  "",
  "# Thumbnails",
  "._*",
  "",
  "# Files that might appear in the root of a volume",
  ".DocumentRevisions-V100",
  ".fseventsd",
  ".Spotlight-V100",
  ".TemporaryItems",
  ".Trashes",
  ".VolumeIcon.icns",
  ".com.apple.timemachine.donotpresent",
  "",
  "# Directories potentially created on remote AFP share",
  ".AppleDB",
  ".AppleDesktop",
  "Network Trash Folder",
  "Temporary Items",
  ".apdisk",
  "",
  "# JetBrains ----------------------------------------------------------------------------",
  ".idea/*",
  ".idea/**/workspace.xml",
  ".idea/**/tasks.xml",
  ".idea/dictionaries",
  ".idea/**/dataSources/",
  ".idea/**/dataSources.ids",
  ".idea/**/dataSources.xml",
  ".idea/**/dataSources.local.xml",
  ".idea/**/sqlDataSources.xml",
  ".idea/**/dynamic.xml",
  ".idea/**/uiDesigner.xml",
  ".idea/**/gradle.xml",
  ".idea/**/libraries",
  "cmake-build-debug/",
  "cmake-build-release/",
  ".idea/**/mongoSettings.xml",
  "*.iws",
  "out/",
  ".idea_modules/",
  "atlassian-ide-plugin.xml",
  "com_crashlytics_export_strings.xml",
  "crashlytics.properties",
  "crashlytics-build.properties",
  "fabric.properties",
  "",
].join("\n");
