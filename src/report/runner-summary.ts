// The runner as a person reads it: endpoint, BuildKit version, workers and platforms.
import type { RunnerInfo } from "../buildkit/index.js";

export function describeRunner(info: RunnerInfo): string[] {
  const lines = [`Runner:     ${info.endpoint}`];
  if (info.version) {
    const v = info.version;
    // As buildctl prints it: package, version, revision; a build whose revision is its version
    // (or none) gives the version once.
    const revision = v.revision === v.version ? "" : v.revision;
    lines.push(`BuildKit:   ${[v.package, v.version, revision].filter(Boolean).join(" ")}`);
    if (v.dockerfileVersion) lines.push(`Dockerfile: ${v.dockerfileVersion}`);
  } else {
    lines.push("BuildKit:   older than v0.11 (the runner has no Info call)");
  }
  lines.push(`Platforms:  ${info.platforms.join(", ") || "none"}`);
  for (const worker of info.workers) {
    const executor = worker.labels["org.mobyproject.buildkit.worker.executor"];
    const snapshotter = worker.labels["org.mobyproject.buildkit.worker.snapshotter"];
    const traits = [executor && `executor ${executor}`, snapshotter && `snapshotter ${snapshotter}`]
      .filter(Boolean)
      .join(", ");
    lines.push(`Worker:     ${worker.id}${traits ? ` (${traits})` : ""}`);
  }
  return lines;
}
