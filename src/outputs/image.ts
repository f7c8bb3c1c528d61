// The image exporter's response turned into what docker/build-push-action gives: the digest, the
// image id, and buildx's metadata file.
import { writeFileSync } from "node:fs";
import { InputError } from "../errors.js";

/**
 * The exporter response as buildx writes its metadata file: values that are base64 of JSON
 * (the image descriptor) decoded, the rest as they are.
 */
export function buildMetadata(exporterResponse: Record<string, string>): Record<string, unknown> {
  const metadata: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(exporterResponse)) {
    metadata[key] = decodedJson(value) ?? value;
  }
  return metadata;
}

function decodedJson(value: string): unknown {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || value.length % 4 !== 0) return undefined;
  const text = Buffer.from(value, "base64").toString("utf8");
  if (!text.startsWith("{") && !text.startsWith("[")) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The step outputs of an image build, empty strings when nothing was exported. */
export function imageOutputs(exporterResponse: Record<string, string>): {
  digest: string;
  imageid: string;
  metadata: string;
} {
  return {
    digest: exporterResponse["containerimage.digest"] ?? "",
    imageid: exporterResponse["containerimage.config.digest"] ?? "",
    metadata: JSON.stringify(buildMetadata(exporterResponse)),
  };
}

/** Writes buildx's metadata file; `name` is the input that asked for it, for the sentence. */
export function writeMetadataFile(
  path: string,
  name: string,
  exporterResponse: Record<string, string>,
): void {
  try {
    writeFileSync(path, `${JSON.stringify(buildMetadata(exporterResponse), null, 2)}\n`);
  } catch (error) {
    throw new InputError(`${name} "${path}" cannot be written (${(error as NodeJS.ErrnoException).code}).`);
  }
}
