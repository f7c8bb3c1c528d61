// The input table's rows for a fleet of runners: how a pool picks one (affinity or order), how
// long it waits when all are busy, and whether a local runner stands in when none answers.
import type { Routing } from "../../../runner/affinity.js";
import { DEFAULT_BUSY_TIMEOUT_MS } from "../../../runner/pool.js";
import { nonEmpty, parseChoice, parseDuration } from "../../../values.js";
import { BUILD, text } from "../row.js";

export type Fallback = "none" | "local";

export const FLEET_INPUTS = {
  routing: text({
    action: "routing",
    cli: {
      flag: "routing",
      value: "affinity|ordered",
      commands: BUILD,
      section: "connection",
      help: [
        "with several runners: affinity (default) sends a project to the",
        "same runner every time, where its cache is; ordered prefers them",
        "in the order given",
      ],
    },
    default: "affinity",
    parse: (value, { name }): Routing =>
      nonEmpty(value) === undefined ? "affinity" : parseChoice(value!, name, ["affinity", "ordered"]),
  }),
  affinityKey: text({
    action: "affinity-key",
    cli: {
      flag: "affinity-key",
      value: "KEY",
      commands: BUILD,
      section: "connection",
      help: [
        "what affinity routing hashes (default: the repository, else the",
        "context's path, with the Dockerfile and the target)",
      ],
    },
    parse: nonEmpty,
  }),
  busyTimeoutMs: text({
    action: "busy-timeout",
    cli: {
      flag: "busy-timeout",
      value: "DURATION",
      commands: BUILD,
      section: "connection",
      help: ["how long to wait when every runner is at its", "max-parallelism (default 5m)"],
    },
    default: `${DEFAULT_BUSY_TIMEOUT_MS / 60_000}m`,
    parse: (value, { name }) => parseDuration(value!, name),
  }),
  fallback: text({
    action: "fallback",
    cli: {
      flag: "fallback",
      value: "none|local",
      commands: BUILD,
      section: "connection",
      help: ["local: when no runner given answers, start the pinned local runner"],
    },
    default: "none",
    parse: (value, { name }): Fallback =>
      nonEmpty(value) === undefined ? "none" : parseChoice(value!, name, ["none", "local"]),
  }),
};
