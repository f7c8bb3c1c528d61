// `npm run build`: bundles the action's entries and the CLI into single ESM files in dist/ with ncc.
// CI rebuilds and fails when dist/ differs from what is committed.
import { createRequire } from "node:module";
import { mkdirSync, writeFileSync, renameSync, readdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const ncc = require("@vercel/ncc");
const root = join(dirname(fileURLToPath(import.meta.url)), "..");

const ENTRIES = [
  { source: "src/github/main.ts", output: "dist/main.mjs" },
  { source: "src/github/post.ts", output: "dist/post.mjs" },
  // GitHub's artifact client and caches, which most runs never use: loaded on first use
  // (src/github/load-toolkit.ts), so that the steps do not compile them at every start.
  { source: "src/github/toolkit.ts", output: "dist/github-toolkit.mjs" },
  // The CLI's entry answers --help and --version itself and imports the program only for a
  // command (src/cli/main.ts): two files, so that a quick answer does not compile the program.
  { source: "src/cli/main.ts", output: "dist/cli.mjs", executable: true },
  { source: "src/cli/program.ts", output: "dist/cli-program.mjs" },
];

// Files are replaced by rename, never removed first, so that a test running the bundles while
// another build runs never finds one missing; files no entry writes any more are removed.
mkdirSync(join(root, "dist"), { recursive: true });
const outputs = new Set(ENTRIES.map((entry) => entry.output.slice("dist/".length)));
for (const name of readdirSync(join(root, "dist"))) {
  if (!outputs.has(name) && !name.endsWith(".tmp"))
    rmSync(join(root, "dist", name), { recursive: true, force: true });
}
for (const entry of ENTRIES) {
  // Each entry is one file that runs on its own (the CLI's entry with its program beside it).
  let code;
  try {
    ({ code } = await ncc(join(root, entry.source), {
      target: "es2022",
      minify: false,
      sourceMap: false,
      quiet: true,
      cache: false,
    }));
  } catch (error) {
    // ncc's errors carry its own minified source in the stack; the message is what matters.
    console.error(`Bundling ${entry.source} failed:\n${String(error.message ?? error).slice(0, 4000)}`);
    process.exit(1);
  }
  const shebang = "#!/usr/bin/env node\n";
  const body = entry.executable && !code.startsWith("#!") ? shebang + code : code;
  const temporary = join(root, `${entry.output}.${process.pid}.tmp`);
  writeFileSync(temporary, body, { mode: entry.executable ? 0o755 : 0o644 });
  renameSync(temporary, join(root, entry.output));
  console.log(`${entry.output}: ${(body.length / 1024).toFixed(0)} KiB`);
}
