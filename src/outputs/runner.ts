// The runner's facts as step outputs (the action) or JSON (the CLI's --format json).
import type { RunnerInfo } from "../buildkit/index.js";

export interface RunnerOutputs {
  endpoint: string;
  "buildkit-version": string;
  platforms: string;
  workers: string;
}

export function runnerOutputs(info: RunnerInfo): RunnerOutputs {
  return {
    endpoint: info.endpoint,
    "buildkit-version": info.version?.version ?? "",
    platforms: info.platforms.join(","),
    workers: JSON.stringify(
      info.workers.map((worker) => ({ id: worker.id, platforms: worker.platforms, labels: worker.labels })),
    ),
  };
}
