// The input table's rows for the build: the context, the Dockerfile and the frontend's options.
// Names and list syntax as docker/build-push-action's where the meaning is the same.
import { nonEmpty, parseChoice, parseByteSize, parseKeyValues, parsePlatforms } from "../../../values.js";
import { parseCall } from "../../call.js";
import { contextInput, expandDefaultContext } from "../../git-context.js";
import { entitlement, hostEntry, namedContext, networkMode, ulimit } from "../../plan.js";
import { BUILD, list, text, toggle } from "../row.js";

export const BUILD_INPUTS = {
  context: text({
    action: "context",
    cli: { positional: "CONTEXT", commands: BUILD },
    cliName: "The context",
    default: ".",
    // A directory, a Git URL, or `git` / `{{defaultContext}}` for the job's own commit.
    parse: (value, { env, name }) => contextInput(value!, env, name),
  }),
  file: text({
    action: "file",
    cli: {
      flag: "file",
      short: "f",
      value: "PATH",
      commands: BUILD,
      section: "build",
      help: ["the Dockerfile (default CONTEXT/Dockerfile)"],
    },
    parse: nonEmpty,
  }),
  target: text({
    action: "target",
    cli: { flag: "target", value: "STAGE", commands: BUILD, section: "build", help: ["the stage to build"] },
    parse: nonEmpty,
  }),
  buildArgs: list({
    action: "build-args",
    cli: {
      flag: "build-arg",
      value: "NAME=VALUE",
      commands: BUILD,
      section: "build",
      help: ["a build argument; a bare NAME takes its value from the environment"],
    },
    parse: (items, { name, env }) => parseKeyValues(items, name, env),
  }),
  labels: list({
    action: "labels",
    cli: {
      flag: "label",
      value: "NAME=VALUE",
      commands: BUILD,
      section: "build",
      help: ["a label for the image"],
    },
    parse: (items, { name }) => parseKeyValues(items, name),
  }),
  platforms: list({
    action: "platforms",
    cli: {
      flag: "platform",
      value: "OS/ARCH",
      commands: BUILD,
      section: "build",
      help: ["target platforms, comma-separated or repeated"],
    },
    separator: ",",
    parse: (items, { name }) => parsePlatforms(items, name),
  }),
  noCache: toggle({
    action: "no-cache",
    cli: { flag: "no-cache", commands: BUILD, section: "build", help: ["build without the runner's cache"] },
    default: "false",
  }),
  noCacheFilters: list({
    action: "no-cache-filters",
    cli: {
      flag: "no-cache-filter",
      value: "STAGE",
      commands: BUILD,
      section: "build",
      help: ["build these stages without cache"],
    },
    separator: ",",
    parse: (items) => items,
  }),
  buildContexts: list({
    action: "build-contexts",
    cli: {
      flag: "build-context",
      value: "NAME=VALUE",
      commands: BUILD,
      section: "build",
      help: ["a named context: a directory, docker-image://REF,", "a Git or an HTTPS URL"],
    },
    parse: (items, { name, cwd, env }) =>
      items.map((item) => namedContext(expandDefaultContext(item, env, name), name, cwd)),
  }),
  addHosts: list({
    action: "add-hosts",
    cli: {
      flag: "add-host",
      value: "HOST:IP",
      commands: BUILD,
      section: "build",
      help: ["an entry for /etc/hosts in RUN steps"],
    },
    separator: ",",
    parse: (items, { name }) => items.map((item) => hostEntry(item, name)),
  }),
  network: text({
    action: "network",
    cli: {
      flag: "network",
      value: "MODE",
      commands: BUILD,
      section: "build",
      help: ["the network of RUN steps: default, none or host"],
    },
    parse: (value, { name }) => networkMode(value, name),
  }),
  shmSizeBytes: text({
    action: "shm-size",
    cli: {
      flag: "shm-size",
      value: "SIZE",
      commands: BUILD,
      section: "build",
      help: ["the size of /dev/shm in RUN steps, such as 64m"],
    },
    parse: (value, { name }) => (nonEmpty(value) ? parseByteSize(value!.trim(), name) : undefined),
  }),
  ulimits: list({
    action: "ulimit",
    cli: {
      flag: "ulimit",
      value: "NAME=SOFT[:HARD]",
      commands: BUILD,
      section: "build",
      help: ["a ulimit for RUN steps, such as nofile=1024:2048"],
    },
    separator: /[\s,]+/,
    parse: (items, { name }) => items.map((item) => ulimit(item, name)),
  }),
  pull: toggle({
    action: "pull",
    cli: {
      flag: "pull",
      commands: BUILD,
      section: "build",
      help: ["look up base images in their registry again"],
    },
    default: "false",
  }),
  allow: list({
    action: "allow",
    cli: {
      flag: "allow",
      value: "ENTITLEMENT",
      commands: BUILD,
      section: "build",
      help: ["network.host or security.insecure, which the runner must allow too"],
    },
    separator: ",",
    parse: (items, { name }) => [...new Set(items.map((item) => entitlement(item, name)))],
  }),
  cgroupParent: text({
    action: "cgroup-parent",
    cli: {
      flag: "cgroup-parent",
      value: "CGROUP",
      commands: BUILD,
      section: "build",
      help: ["the parent cgroup of RUN steps' containers"],
    },
    parse: nonEmpty,
  }),
  call: text({
    action: "call",
    cli: {
      flag: "call",
      value: "METHOD",
      commands: BUILD,
      section: "build",
      help: [
        "check (the Dockerfile's checks), outline or targets instead of a",
        "build, as buildx's --call; options format=json, ignorestatus=true",
      ],
    },
    parse: (value, { name }) => parseCall(value, name),
  }),
  check: toggle({
    cli: { flag: "check", commands: BUILD, section: "build", help: ["shorthand for --call check"] },
  }),
  progress: text({
    cli: {
      flag: "progress",
      value: "plain|auto",
      commands: BUILD,
      section: "build",
      help: ["the log format: plain (auto means plain here)"],
    },
    default: "plain",
    // buildx's auto means "what suits the output": plain, here. Its tty view (a live redrawn
    // screen) is not implemented, and taking tty for plain would say something untrue.
    parse: (value, { name }) => {
      parseChoice(value!, name, ["plain", "auto"], "(the log is buildctl's plain progress; no tty view)");
      return "plain" as const;
    },
  }),
};
