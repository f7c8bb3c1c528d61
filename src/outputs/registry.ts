// Just enough of the registry API (distribution v2) to join per-platform images built on
// different runners into one image index, as buildx's multi-node builds do: PUT one manifest,
// answering the registry's Basic or Bearer challenge with the job's credentials.
import type { CredentialLookup, RegistryCredential } from "../buildkit/index.js";
import { UserError } from "../errors.js";
import { boundedSignal, timedOut } from "../deadline.js";

export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

/** Bound on one push of an index, its token request included: a registry that stalls must not hang the job. */
export const REGISTRY_TIMEOUT_MS = 60_000;

/** The registry would not take what we sent; the message names the registry and the status. */
export class RegistryError extends UserError {
  override name = "RegistryError";
}

export interface ImageReference {
  /** The host as in the image name (docker.io for Docker Hub). */
  host: string;
  repository: string;
  tag: string;
}

/** `host[:port]/path/name[:tag]`, Docker Hub's short names included. */
export function parseReference(name: string): ImageReference {
  const { untagged, tag } = splitTag(name.split("@")[0]!);
  const slash = untagged.indexOf("/");
  const first = slash < 0 ? "" : untagged.slice(0, slash);
  const hasHost = first.includes(".") || first.includes(":") || first === "localhost";
  const host = hasHost ? first : "docker.io";
  let path = hasHost ? untagged.slice(slash + 1) : untagged;
  if (host === "docker.io" && !path.includes("/")) path = `library/${path}`;
  return { host, repository: path, tag: tag ?? "latest" };
}

/** A name's tag is what follows a colon after its last slash (a host's port comes before one). */
export function splitTag(name: string): { untagged: string; tag?: string } {
  const colon = name.lastIndexOf(":");
  return colon > name.lastIndexOf("/")
    ? { untagged: name.slice(0, colon), tag: name.slice(colon + 1) }
    : { untagged: name };
}

export interface IndexEntry {
  mediaType: string;
  digest: string;
  size: number;
  platform: { os: string; architecture: string; variant?: string };
}

/** Puts an image index listing `entries` (manifests already in the repository) under the tag. */
export async function putImageIndex(
  reference: ImageReference,
  entries: IndexEntry[],
  credentials: CredentialLookup | undefined,
  signal: AbortSignal,
  timeoutMs: number = REGISTRY_TIMEOUT_MS,
): Promise<string> {
  const deadline = boundedSignal(timeoutMs, signal);
  try {
    return await putWithin(reference, entries, credentials, deadline.signal);
  } catch (error) {
    if (!timedOut(deadline.signal)) throw error;
    throw new RegistryError(
      `The registry ${reference.host} did not take the image index for ${reference.host}/${reference.repository}:${reference.tag} within ${timeoutMs / 1000} s.`,
    );
  } finally {
    deadline.clear();
  }
}

async function putWithin(
  reference: ImageReference,
  entries: IndexEntry[],
  credentials: CredentialLookup | undefined,
  signal: AbortSignal,
): Promise<string> {
  const body = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries });
  const apiHost = reference.host === "docker.io" ? "registry-1.docker.io" : reference.host;
  const url = `https://${apiHost}/v2/${reference.repository}/manifests/${reference.tag}`;
  const put = (authorization?: string) =>
    fetch(url, {
      method: "PUT",
      body,
      headers: { "content-type": OCI_INDEX, ...(authorization ? { authorization } : {}) },
      signal,
    });
  const where = `${reference.host}/${reference.repository}:${reference.tag}`;
  let response = await put().catch((error: unknown) => {
    throw new RegistryError(
      `The registry ${reference.host} could not be reached to push ${where}: ${causeOf(error)}.`,
    );
  });
  if (response.status === 401) {
    const credential = await credentials?.(apiHost, signal);
    const authorization = await answerChallenge(
      response.headers.get("www-authenticate") ?? "",
      credential,
      reference,
      signal,
    );
    await response.body?.cancel();
    response = await put(authorization);
  }
  if (response.status !== 201 && response.status !== 200) {
    const detail = (await response.text().catch(() => "")).slice(0, 200).trim();
    throw new RegistryError(
      `The registry ${reference.host} refused the image index for ${where}: HTTP ${response.status}${detail ? ` ${detail}` : ""}.`,
    );
  }
  await response.body?.cancel();
  return response.headers.get("docker-content-digest") ?? "";
}

/** Basic: the credentials themselves; Bearer: a token from the realm, fetched with them. */
async function answerChallenge(
  challenge: string,
  credential: RegistryCredential | undefined,
  reference: ImageReference,
  signal: AbortSignal,
): Promise<string | undefined> {
  const basic =
    credential && credential.username
      ? `Basic ${Buffer.from(`${credential.username}:${credential.secret}`).toString("base64")}`
      : undefined;
  if (/^basic/i.test(challenge)) return basic;
  if (!/^bearer/i.test(challenge)) return basic;
  const params = Object.fromEntries(
    [...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1]!.toLowerCase(), match[2]!]),
  );
  if (!params.realm) return basic;
  const tokenUrl = new URL(params.realm);
  if (params.service) tokenUrl.searchParams.set("service", params.service);
  tokenUrl.searchParams.set("scope", `repository:${reference.repository}:pull,push`);
  const response = await fetch(tokenUrl, { headers: basic ? { authorization: basic } : {}, signal }).catch(
    (error: unknown) => {
      throw new RegistryError(`The token service ${tokenUrl.host} could not be reached: ${causeOf(error)}.`);
    },
  );
  if (!response.ok) {
    await response.body?.cancel();
    throw new RegistryError(
      `The token service ${tokenUrl.host} refused a token for ${reference.repository}: HTTP ${response.status}.`,
    );
  }
  const { token, access_token: accessToken } = (await response.json()) as {
    token?: string;
    access_token?: string;
  };
  return `Bearer ${token ?? accessToken ?? ""}`;
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
