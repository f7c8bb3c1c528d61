// A pool of runners as a person reads it: each runner's state, BuildKit version, platforms, builds
// in flight, round-trip time and cache size, and why it took the build or not. The job summary
// shows it as a table, the log as one line per runner.
import type { RunnerInfo } from "../buildkit/index.js";

/** One runner of a pool (runner/pool.ts fills it). */
export interface PoolRunnerView {
  name: string;
  endpoint: string;
  state: string;
  info?: RunnerInfo;
  load?: { buildsInFlight?: number; roundTripMs?: number; cacheBytes?: number };
  maxParallelism?: number;
  note: string;
}

export function poolSummaryMarkdown(runners: PoolRunnerView[]): string[] {
  const lines = [
    "| Runner | State | BuildKit | Platforms | Builds in flight | Round trip | Cache | Why |",
    "|---|---|---|---|---:|---:|---:|---|",
  ];
  for (const runner of runners) {
    const cells = [
      runner.name === runner.endpoint
        ? `\`${runner.endpoint}\``
        : `${escapeCell(runner.name)} (\`${runner.endpoint}\`)`,
      runner.state === "chosen" ? "**chosen**" : runner.state,
      runner.info?.version?.version ?? "",
      runner.info ? runner.info.platforms.join(", ") : "",
      inFlight(runner),
      runner.load?.roundTripMs === undefined ? "" : `${runner.load.roundTripMs} ms`,
      runner.load?.cacheBytes === undefined ? "" : formatBytes(runner.load.cacheBytes),
      escapeCell(runner.note),
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines;
}

/** One line per runner, for the log. */
export function describePool(runners: PoolRunnerView[]): string[] {
  return runners.map((runner) => {
    const facts = [
      runner.info?.version?.version && `BuildKit ${runner.info.version.version}`,
      runner.load && `${inFlight(runner) || "?"} in flight`,
      runner.load?.roundTripMs !== undefined && `${runner.load.roundTripMs} ms`,
      runner.load?.cacheBytes !== undefined && `cache ${formatBytes(runner.load.cacheBytes)}`,
    ].filter(Boolean);
    const name = runner.name === runner.endpoint ? runner.endpoint : `${runner.name} (${runner.endpoint})`;
    return `Pool:       ${name}: ${runner.state}${facts.length > 0 ? `, ${facts.join(", ")}` : ""}; ${runner.note}`;
  });
}

function inFlight(runner: PoolRunnerView): string {
  const count = runner.load?.buildsInFlight;
  if (count === undefined) return "";
  return runner.maxParallelism === undefined ? `${count}` : `${count} of ${runner.maxParallelism}`;
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}
