// buildkitd's command line: its flags, and how it runs as root (a shell notes its pid through sudo).
import { readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { asRoot, type RootAccess, type RootCommand } from "../privilege.js";
import type { FoundBuildkitd } from "../release/ensure.js";

/** Variables buildkitd needs that sudo would drop: the proxies its pulls and pushes go through. */
const PASSED_THROUGH_SUDO = [
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "http_proxy",
  "https_proxy",
  "no_proxy",
];

export function buildkitdCommand(
  access: RootAccess,
  found: FoundBuildkitd,
  stateDir: string,
  runtimeDir: string,
  extraArgs: string[],
): RootCommand {
  const args = [
    "--root",
    stateDir,
    "--addr",
    `unix://${join(runtimeDir, "buildkitd.sock")}`,
    // Its own trace socket: the default /run/buildkit/otel-grpc.sock is removed and re-bound by
    // every buildkitd, so two on one machine (or one beside the system's) race for it.
    "--otel-socket-path",
    join(runtimeDir, "otel-grpc.sock"),
    "--oci-worker=true",
    "--containerd-worker=false",
  ];
  // The release's buildkit-runc is found on PATH.
  const env: Record<string, string> = { PATH: `${found.binDir}${delimiter}${process.env.PATH ?? ""}` };
  // buildkitd makes a directory for each forwarded SSH agent socket (.buildkit-ssh-sock*) in its
  // TMPDIR and leaves it there: in the runtime dir it goes when the runner stops.
  env.TMPDIR = runtimeDir;
  // runc keeps container state under $XDG_RUNTIME_DIR, else /run/runc, which is root's.
  if (access === "rootless") env.XDG_RUNTIME_DIR = runtimeDir;
  // As root, or as root of rootlesskit's user namespace (our own uid outside it), our child's pid
  // stops it and the socket is ours.
  if (access !== "sudo") return asRoot(access, found.path, [...args, ...extraArgs], env);
  for (const name of PASSED_THROUGH_SUDO) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  // The socket's group is ours, so that we can connect without root. Through sudo our child is
  // sudo: a shell notes buildkitd's own pid (it execs into buildkitd) for stopping it later.
  args.push("--group", String(process.getgid?.() ?? 0));
  return asRoot(
    access,
    "/bin/sh",
    ["-c", 'echo $$ > "$0" && exec "$@"', join(runtimeDir, PID_FILE), found.path, ...args, ...extraArgs],
    env,
  );
}

const PID_FILE = "buildkitd.pid";

export function readPid(runtimeDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(runtimeDir, PID_FILE), "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
