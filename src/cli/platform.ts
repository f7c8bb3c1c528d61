// The job's platform in a shell, GitLab CI or CircleCI: plain lines on stderr (the build log too,
// as buildctl prints its progress there), no masking service, no step outputs (the build command
// closes with what was built instead), and a runner started for the command kept in
// ~/.cache/remote-buildkit.
import { join } from "node:path";
import type { JobPlatform } from "../job/platform.js";
import { defaultCacheRoot, DirToolStore } from "../runner/release/tool-store.js";
import { InPlaceStateStore } from "../runner/state.js";
import type { CommandContext } from "./context.js";

export function cliPlatform(context: CommandContext, debug: boolean): JobPlatform {
  const reporter = context.reporter(debug);
  const cacheRoot = defaultCacheRoot(context.env);
  return {
    reporter,
    writeLog: (text) => context.stderr(text),
    writeResult: (text) => context.stdout(text),
    mask: () => {},
    // The digest is in the closing lines the build command prints.
    setOutput: () => {},
    localRunner: {
      tools: new DirToolStore(cacheRoot),
      // The state dir is the build cache: kept between commands, so the next build starts warm.
      state: new InPlaceStateStore(),
      stateDir: (version) => join(cacheRoot, "state", `buildkit-v${version.replace(/^v/, "")}`),
      detached: false,
    },
    env: context.env,
    cwd: process.cwd(),
    signal: context.signal,
  };
}
