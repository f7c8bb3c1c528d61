// Tests that push to the test registry check the result the same way: by asking the registry for the manifest.
import { readFileSync } from "node:fs";
import { request } from "node:https";
import type { RegistryUnderTest } from "../harness/env.js";

/** The registry's answer to GET /v2/<name>/manifests/<tag>, with the test user and `password`. */
export function manifestStatus(
  registry: RegistryUnderTest,
  name: string,
  tag: string,
  password = registry.password,
): Promise<number | undefined> {
  const auth = Buffer.from(`${registry.username}:${password}`).toString("base64");
  return new Promise((resolve, reject) => {
    const req = request(
      `https://${registry.address}/v2/${name}/manifests/${tag}`,
      {
        ca: readFileSync(registry.caCert),
        timeout: 10_000,
        headers: {
          authorization: `Basic ${auth}`,
          accept:
            "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
        },
      },
      (response) => {
        response.resume();
        resolve(response.statusCode);
      },
    );
    req.on("timeout", () => req.destroy(new Error("registry request timed out")));
    req.on("error", reject);
    req.end();
  });
}
