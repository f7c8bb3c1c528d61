// The image exporter's attributes, attestations, and the outputs read from the exporter response.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { prepareBuild } from "../../src/job/request.js";
import { solveRequest } from "../../src/job/solve-request.js";
import { buildMetadata, imageOutputs } from "../../src/outputs/image.js";
import { InputError } from "../../src/errors.js";
import { inputsOf, type GivenInputs } from "../helpers/inputs.js";
import { tempDir } from "../helpers/temp.js";

/**
 * The action's image inputs, as given, through the request to the Solve request: the image
 * exporter's attributes (when there is an image) and the frontend's attest:* attributes.
 */
async function plan(overrides: GivenInputs) {
  const dir = tempDir("rb-image-");
  writeFileSync(join(dir, "Dockerfile"), "FROM scratch\n");
  const read = await inputsOf({ context: dir, dockerConfig: false, ...overrides }, { cwd: dir });
  const request = solveRequest(prepareBuild(read, { cwd: dir, env: {}, mask: () => {} }));
  const image = request.exporters.find((exporter) => exporter.type === "image");
  const attestationAttrs = Object.fromEntries(
    Object.entries(request.frontendAttrs).filter(([key]) => key.startsWith("attest:")),
  );
  return image ? { exporterAttrs: image.attrs, attestationAttrs } : { attestationAttrs };
}

async function rejects(overrides: GivenInputs, message: RegExp): Promise<void> {
  await assert.rejects(
    () => plan(overrides),
    (error: unknown) => error instanceof InputError && message.test(error.message),
  );
}

describe("image plan", () => {
  it("exports no image without a name", async () => {
    assert.deepEqual(await plan({}), { attestationAttrs: {} });
  });

  it("maps names, push and the image options to the image exporter's attributes", async () => {
    const built = await plan({
      tags: ["127.0.0.1:5000/team/app:1.2,127.0.0.1:5000/team/app:latest", "ghcr.io/org/app"],
      push: true,
      pushByDigest: true,
      ociMediatypes: "true",
      compression: "zstd",
      annotations: ["org.opencontainers.image.title=app", "index:org.example.note=x=y"],
      provenance: "mode=max",
      sbom: "true",
    });
    assert.deepEqual(built.exporterAttrs, {
      name: "127.0.0.1:5000/team/app:1.2,127.0.0.1:5000/team/app:latest,ghcr.io/org/app",
      push: "true",
      "push-by-digest": "true",
      "oci-mediatypes": "true",
      compression: "zstd",
      "force-compression": "true",
      "annotation.org.opencontainers.image.title": "app",
      "annotation-index.org.example.note": "x=y",
    });
    assert.deepEqual(built.attestationAttrs, { "attest:provenance": "mode=max", "attest:sbom": "" });
    assert.deepEqual((await plan({ provenance: "true" })).attestationAttrs, {
      "attest:provenance": "mode=min",
    });
    assert.deepEqual((await plan({ provenance: "false", sbom: "false" })).attestationAttrs, {});
  });

  it("reads buildx's annotation types, several at once, each with an optional platform", async () => {
    const built = await plan({
      tags: ["app"],
      annotations: [
        "manifest,index[linux/amd64]:org.example.both=1",
        "manifest-descriptor[linux/arm64/v8]:org.example.arm=2",
        "[linux/amd64]:org.example.plain=3",
      ],
    });
    const annotations = Object.fromEntries(
      Object.entries(built.exporterAttrs ?? {}).filter(([key]) => key.startsWith("annotation")),
    );
    assert.deepEqual(annotations, {
      // BuildKit keeps a platform only on manifest annotations.
      "annotation-manifest.org.example.both": "1",
      "annotation-index.org.example.both": "1",
      "annotation-manifest-descriptor[linux/arm64].org.example.arm": "2",
      "annotation.org.example.plain": "3",
    });
  });

  it("rejects each bad input with a sentence that names it", async () => {
    await rejects({ tags: ["Not A Name"] }, /^input tags "Not A Name" is not an image name/);
    await rejects({ push: true }, /^Pushing needs at least one name in input tags\.$/);
    await rejects({ tags: ["app"], pushByDigest: true }, /^input push-by-digest needs push\.$/);
    await rejects({ tags: ["app"], compression: "lz4" }, /^input compression is "lz4"; use gzip, zstd/);
    await rejects(
      { tags: ["app"], ociMediatypes: "yes" },
      /^input oci-mediatypes is "yes"; use true or false\.$/,
    );
    await rejects(
      { tags: ["app"], annotations: ["novalue"] },
      /^input annotations "novalue" is not KEY=VALUE\.$/,
    );
    await rejects({ tags: ["app"], annotations: ["layer:k=v"] }, /has the type "layer"/);
    await rejects({ tags: ["app"], annotations: ["manifest,bogus:k=v"] }, /has the type "bogus"/);
    await rejects(
      { tags: ["app"], annotations: ["manifest:=v"] },
      /^input annotations "manifest:=v" has no key/,
    );
    await rejects(
      { tags: ["app"], annotations: ["manifest[mars/x]:k=v"] },
      /^The platform in input annotations "manifest\[mars\/x\]:k=v" "mars\/x" names an unknown operating system "mars"\.$/,
    );
    await rejects({ provenance: "maximum" }, /^input provenance "maximum" is not true, false or KEY=VALUE/);
  });

  it("decodes the exporter response as buildx's metadata file does", () => {
    const descriptor = {
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: "sha256:ab",
      size: 1,
    };
    const response = {
      "containerimage.digest": "sha256:ab",
      "containerimage.config.digest": "sha256:cd",
      "containerimage.descriptor": Buffer.from(JSON.stringify(descriptor)).toString("base64"),
      "image.name": "app:1",
    };
    assert.deepEqual(buildMetadata(response), { ...response, "containerimage.descriptor": descriptor });
    const outputs = imageOutputs(response);
    assert.equal(outputs.digest, "sha256:ab");
    assert.equal(outputs.imageid, "sha256:cd");
    assert.deepEqual(JSON.parse(outputs.metadata), buildMetadata(response));
    assert.deepEqual(imageOutputs({}), { digest: "", imageid: "", metadata: "{}" });
  });
});
