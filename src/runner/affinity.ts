// Affinity: which runner of a pool a project goes to. Rendezvous (highest-random-weight) hashing
// gives every (key, runner) pair a weight and ranks runners by it, so a project lands on the same
// runner every time (its cache is there), and removing a runner moves only the projects that
// ranked it first; adding one takes from each runner an even share. A runner is known by its name
// (else its endpoint), not by its place in the list, so reordering the pool moves nothing.
import { createHash } from "node:crypto";
import { relative, resolve } from "node:path";

export type Routing = "ordered" | "affinity";

/** The weight of `runnerId` for `key`: the first 8 bytes of sha256(key NUL runnerId). */
export function rendezvousWeight(key: string, runnerId: string): bigint {
  return createHash("sha256").update(key).update("\0").update(runnerId).digest().readBigUInt64BE(0);
}

/** `items` from the highest weight for `key` to the lowest; equal weights by id, for a total order. */
export function rankByAffinity<T>(key: string, items: readonly T[], idOf: (item: T) => string): T[] {
  const weighed = items.map((item) => ({ item, id: idOf(item), weight: rendezvousWeight(key, idOf(item)) }));
  weighed.sort((a, b) => (a.weight === b.weight ? a.id.localeCompare(b.id) : a.weight > b.weight ? -1 : 1));
  return weighed.map(({ item }) => item);
}

export interface AffinitySource {
  env: NodeJS.ProcessEnv;
  cwd: string;
  contextDir: string;
  /** The Dockerfile's path. */
  dockerfile: string;
  target?: string;
}

/**
 * The default affinity key: the repository (GITHUB_REPOSITORY, GitLab's CI_PROJECT_PATH), else the
 * context's absolute path; then the Dockerfile and the target. With a repository the Dockerfile is
 * taken relative to the working directory, so that the key does not depend on where the checkout is.
 */
export function defaultAffinityKey(source: AffinitySource): string {
  const repository = [source.env.GITHUB_REPOSITORY, source.env.CI_PROJECT_PATH]
    .map((value) => value?.trim())
    .find((value) => value !== undefined && value !== "");
  const dockerfile = resolve(source.cwd, source.dockerfile);
  const parts = repository
    ? [repository, relative(source.cwd, dockerfile) || dockerfile]
    : [resolve(source.cwd, source.contextDir), dockerfile];
  return [...parts, source.target ?? ""].join("|");
}
