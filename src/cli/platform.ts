// The job's platform in a shell, GitLab CI or CircleCI: plain lines on stderr (the build log too,
// as buildctl prints its progress there), no masking service, the image digest as the one output
// a person reads, and a runner started for the command kept in ~/.cache/remote-buildkit.
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
    setOutput: (name, value) => {
      if (name === "digest" && value) reporter.info(`Image digest: ${value}`);
    },
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
