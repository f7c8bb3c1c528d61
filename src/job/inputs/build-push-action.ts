// docker/build-push-action's inputs, for a `uses:` swap: each is one of ours with the same name
// and meaning, or refused with a sentence that says what to use instead. The list is the inputs of
// build-push-action's action.yml (v7.3.0; v6's are the same names); test/unit/build-push-action
// holds each to action.yml and the README.
import { INPUTS } from "./table.js";
import type { Row } from "./row.js";

export const BUILD_PUSH_ACTION_INPUTS = [
  "add-hosts",
  "allow",
  "annotations",
  "attests",
  "build-args",
  "build-contexts",
  "builder",
  "cache-from",
  "cache-to",
  "call",
  "cgroup-parent",
  "context",
  "file",
  "labels",
  "load",
  "network",
  "no-cache",
  "no-cache-filters",
  "outputs",
  "platforms",
  "provenance",
  "pull",
  "push",
  "sbom",
  "secrets",
  "secret-envs",
  "secret-files",
  "shm-size",
  "ssh",
  "tags",
  "target",
  "ulimit",
  "github-token",
] as const;

/** Why an input of build-push-action is not ours, and what to use instead; none are refused for good. */
export const NOT_SUPPORTED: Readonly<Record<string, string>> = {};

/**
 * The sentence for a build-push-action input given to the action that the input table does not
 * have, or undefined when it has it. GitHub passes undeclared inputs on (with only a warning), so
 * the action would otherwise ignore them silently.
 */
export function refusedBuildPushActionInput(name: string): string | undefined {
  const ours = (Object.values(INPUTS) as Row[]).some((row) => row.action === name);
  if (ours || !(BUILD_PUSH_ACTION_INPUTS as readonly string[]).includes(name)) return undefined;
  const why = NOT_SUPPORTED[name] ?? "remote-buildkit does not take it yet";
  return `input ${name} is docker/build-push-action's, and ${why}; leave it out (the README's "Coming from build-push-action" says what to use instead).`;
}
