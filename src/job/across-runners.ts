// A multi-platform image whose platforms are native to different runners, as buildx's
// multi-node builds do it: each platform builds on its own runner at the same time and is pushed
// by digest; then one image index listing them all is pushed under each name. The registry is
// where the results meet, so this needs a push and no other outputs.
import {
  CancelledError,
  formatPlatform,
  type BuildkitClient,
  type Platform,
  type RunnerInfo,
} from "../buildkit/index.js";
import { InputError, PolicyError } from "../errors.js";
import { BuildFailedError } from "./errors.js";
import type { Reporter } from "../report/reporter.js";
import { putImageIndex, parseReference, splitTag, type IndexEntry } from "../outputs/registry.js";
import type { Redactor } from "../report/redact.js";
import type { Exporter } from "../outputs/exporters.js";
import { cacheForPlatform } from "./cache.js";
import { runBuild, type BuildOptions, type BuildResult } from "./run.js";
import { solveRequest, type TypedBuild } from "./solve-request.js";

export interface PlatformRunner {
  platform: Platform;
  client: BuildkitClient;
  info: RunnerInfo;
}

export interface AcrossRunnersOptions extends BuildOptions {
  /** A redactor per build: they print at the same time. */
  newRedactor: () => Redactor;
  signal: AbortSignal;
}

/** The pushed image with a name, when it is all the build exports: then the build can be split. */
function splitImage(exporters: Exporter[]): Extract<Exporter, { type: "image" }> | undefined {
  const [image, ...others] = exporters;
  return image?.type === "image" && image.push && image.names.length > 0 && others.length === 0
    ? image
    : undefined;
}

export async function buildAcrossRunners(
  parts: PlatformRunner[],
  build: TypedBuild,
  options: AcrossRunnersOptions,
): Promise<BuildResult> {
  const image = splitImage(build.exporters);
  if (!image) {
    throw new InputError(
      "Platforms native to different runners meet only in a registry: push the image (with a name) and ask for no other output.",
    );
  }
  const names = image.names.map((name) => name.trim());
  const untaggedNames = [...new Set(names.map((name) => splitTag(name).untagged))];
  // One part that fails ends the others: their results would have nothing to meet.
  const siblings = new AbortController();
  const signal = AbortSignal.any([options.signal, siblings.signal]);
  const settled = await Promise.allSettled(
    parts.map((part) => {
      const log = prefixedLines(`[${formatPlatform(part.platform)}] `, options.writeLog);
      const plan = { ...build.plan, platforms: [part.platform] };
      // By digest: the runner refuses a tagged name there, and the tags go on the index.
      const exporters: Exporter[] = [{ ...image, names: untaggedNames, pushByDigest: true }];
      // Each runner imports and exports its own platform's cache.
      const platform = formatPlatform(part.platform);
      const cache = {
        imports: build.cache.imports.map((entry) => cacheForPlatform(entry, platform)),
        exports: build.cache.exports.map((entry) => cacheForPlatform(entry, platform)),
      };
      return runBuild(part.client, plan, solveRequest({ ...build, plan, exporters, cache }), {
        ...options,
        signal,
        redactor: options.newRedactor(),
        writeLog: log.write,
      })
        .catch((error: unknown) => {
          siblings.abort();
          throw error;
        })
        .finally(log.end);
    }),
  );
  const failures = settled.flatMap((outcome) =>
    outcome.status === "rejected" ? [outcome.reason as unknown] : [],
  );
  // The failure that ended the others, not their cancellation.
  const failure = failures.find((error) => !(error instanceof CancelledError)) ?? failures[0];
  if (failure !== undefined) throw failure;
  const results = settled.map((outcome) => (outcome as PromiseFulfilledResult<BuildResult>).value);
  const entries: IndexEntry[] = results.map((result, index) => ({
    ...manifestDescriptor(result.exporterResponse, formatPlatform(parts[index]!.platform)),
    platform: { ...parts[index]!.platform },
  }));
  let indexDigest = "";
  for (const name of names) {
    indexDigest = await putImageIndex(
      parseReference(name.trim()),
      entries,
      options.credentials,
      options.signal,
    );
  }
  return {
    exporterResponse: {
      "containerimage.digest": indexDigest,
      "image.name": names.join(","),
      ...Object.fromEntries(
        parts.map((part, index) => [
          `containerimage.digest.${formatPlatform(part.platform)}`,
          entries[index]!.digest,
        ]),
      ),
    },
    steps: results.flatMap((result, index) =>
      result.steps.map((step) => ({
        ...step,
        name: `[${formatPlatform(parts[index]!.platform)}] ${step.name}`,
      })),
    ),
    warnings: results.flatMap((result) => result.warnings),
  };
}

/** The pushed manifest, from the image exporter's response (its descriptor is base64 JSON). */
function manifestDescriptor(
  response: Record<string, string>,
  platform: string,
): Omit<IndexEntry, "platform"> {
  const encoded = response["containerimage.descriptor"];
  if (!encoded)
    throw new BuildFailedError(`The build for ${platform} returned no image descriptor to put in the index.`);
  const { mediaType, digest, size } = JSON.parse(Buffer.from(encoded, "base64").toString("utf8")) as Omit<
    IndexEntry,
    "platform"
  >;
  return { mediaType, digest, size };
}

/** Each complete line of one build's log, behind the build's prefix, so that two logs can mix. */
function prefixedLines(prefix: string, write: (text: string) => void) {
  let partial = "";
  return {
    write: (text: string) => {
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      if (lines.length > 0) write(lines.map((line) => `${prefix}${line}\n`).join(""));
    },
    end: () => {
      if (partial) write(`${prefix}${partial}\n`);
      partial = "";
    },
  };
}

/**
 * The build on what acquireRunner gave: one runner, or, when a pool gives the platforms to
 * different runners, each platform on its own (pushed and joined), else all on the first runner
 * under emulation with a warning (strict refuses instead).
 */
export async function buildOnAcquired(
  acquired: { client: BuildkitClient; info: RunnerInfo; byPlatform?: PlatformRunner[] },
  build: TypedBuild,
  options: AcrossRunnersOptions,
  strictPlatforms: boolean,
  reporter: Reporter,
): Promise<BuildResult> {
  const parts = acquired.byPlatform;
  if (!parts) return runBuild(acquired.client, build.plan, solveRequest(build), options);
  if (splitImage(build.exporters)) {
    reporter.info(
      `Building ${parts.map((part) => `${formatPlatform(part.platform)} on ${part.info.endpoint}`).join(", ")}, then one image index.`,
    );
    return buildAcrossRunners(parts, build, options);
  }
  const elsewhere = parts
    .filter((part) => part.info.endpoint !== acquired.info.endpoint)
    .map((part) => formatPlatform(part.platform));
  if (strictPlatforms) {
    throw new PolicyError(
      `The platforms ${elsewhere.join(", ")} are native to other runners than ${acquired.info.endpoint}; building them there needs a push of the image (their results meet in the registry).`,
    );
  }
  reporter.warning(
    `Building ${elsewhere.join(", ")} on ${acquired.info.endpoint} too, under emulation if it has it: only a pushed image can be built across runners.`,
  );
  return runBuild(acquired.client, build.plan, solveRequest(build), options);
}
