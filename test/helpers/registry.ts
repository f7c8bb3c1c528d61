// Tests that push to the test registry check the result the same way: by asking the registry for the manifest.
import { readFileSync } from "node:fs";
import { request } from "node:https";
import type { RegistryUnderTest } from "../harness/env.js";

export const IMAGE_MANIFEST_TYPES = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
];
export const OCI_INDEX_TYPE = "application/vnd.oci.image.index.v1+json";

export interface ManifestAnswer {
  status: number | undefined;
  /** The Docker-Content-Digest header. */
  digest: string | undefined;
  body: string;
}

/** GET /v2/<name>/manifests/<tag> with the test user and `password`, accepting `accept` media types. */
export function getManifest(
  registry: RegistryUnderTest,
  name: string,
  tag: string,
  options: { accept?: string[]; password?: string } = {},
): Promise<ManifestAnswer> {
  const password = options.password ?? registry.password;
  const auth = Buffer.from(`${registry.username}:${password}`).toString("base64");
  return new Promise((resolve, reject) => {
    const req = request(
      `https://${registry.address}/v2/${name}/manifests/${tag}`,
      {
        ca: readFileSync(registry.caCert),
        timeout: 10_000,
        headers: {
          authorization: `Basic ${auth}`,
          accept: (options.accept ?? IMAGE_MANIFEST_TYPES).join(", "),
        },
      },
      (response) => {
        let body = "";
        response.on("data", (chunk: Buffer) => (body += chunk.toString()));
        response.on("end", () => {
          const digest = response.headers["docker-content-digest"];
          resolve({ status: response.statusCode, digest: digest ? String(digest) : undefined, body });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("registry request timed out")));
    req.on("error", reject);
    req.end();
  });
}

/** The registry's status for the image manifest of name:tag. */
export async function manifestStatus(
  registry: RegistryUnderTest,
  name: string,
  tag: string,
  password = registry.password,
): Promise<number | undefined> {
  return (await getManifest(registry, name, tag, { password })).status;
}
