// The image a build produces: names, push, and how it is written (media types, compression,
// annotations), mapped to BuildKit's image exporter; attestations as frontend attributes.
import { InputError } from "../errors.js";

export interface ImageInputs {
  tags: string[];
  push: boolean;
  pushByDigest: boolean;
  ociMediatypes?: string;
  compression?: string;
  annotations: string[];
  provenance?: string;
  sbom?: string;
}

export interface ImageInputNames {
  tags: string;
  pushByDigest: string;
  ociMediatypes: string;
  compression: string;
  annotations: string;
  provenance: string;
  sbom: string;
}

export interface ImagePlan {
  /** The image exporter's attributes, or undefined when the build exports no image. */
  exporterAttrs?: Record<string, string>;
  /** attest:provenance and attest:sbom for the frontend. */
  attestationAttrs: Record<string, string>;
}

const COMPRESSIONS = new Set(["gzip", "zstd", "estargz", "uncompressed"]);
const ANNOTATION_TYPES = new Set(["manifest", "index", "manifest-descriptor", "index-descriptor"]);
// A reference as docker parses one, loosely: lower-case repository path, optional tag or digest.
const IMAGE_NAME =
  /^[a-z0-9]+([._-][a-z0-9]+)*(:\d+)?(\/[a-z0-9]+([._-]{1,2}[a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

export function parseImagePlan(inputs: ImageInputs, names: ImageInputNames): ImagePlan {
  const tags = inputs.tags
    .flatMap((tag) => tag.split(","))
    .map((tag) => tag.trim())
    .filter(Boolean);
  for (const tag of tags) {
    if (!IMAGE_NAME.test(tag)) {
      throw new InputError(
        `${names.tags} "${tag}" is not an image name, such as registry.example.com/team/app:1.2.`,
      );
    }
  }
  if (inputs.push && tags.length === 0) {
    throw new InputError(`Pushing needs at least one name in ${names.tags}.`);
  }
  if (inputs.pushByDigest && !inputs.push) throw new InputError(`${names.pushByDigest} needs push.`);
  const attestationAttrs = attestations(inputs, names);
  if (tags.length === 0) return { attestationAttrs };
  const attrs: Record<string, string> = { name: tags.join(",") };
  if (inputs.push) attrs.push = "true";
  if (inputs.pushByDigest) attrs["push-by-digest"] = "true";
  const oci = inputs.ociMediatypes?.trim();
  if (oci) {
    if (oci !== "true" && oci !== "false")
      throw new InputError(`${names.ociMediatypes} is "${oci}"; use true or false.`);
    attrs["oci-mediatypes"] = oci;
  }
  const compression = inputs.compression?.trim();
  if (compression) {
    if (!COMPRESSIONS.has(compression)) {
      throw new InputError(
        `${names.compression} "${compression}" is not one of ${[...COMPRESSIONS].join(", ")}.`,
      );
    }
    attrs.compression = compression;
    attrs["force-compression"] = "true";
  }
  for (const annotation of inputs.annotations.filter((line) => line.trim() !== "")) {
    const [key, value] = annotationAttr(annotation, names.annotations);
    attrs[key] = value;
  }
  return { exporterAttrs: attrs, attestationAttrs };
}

/** buildx's `KEY=VALUE` or `TYPE:KEY=VALUE` into the exporter's `annotation[-TYPE].KEY`. */
function annotationAttr(annotation: string, name: string): [string, string] {
  const equals = annotation.indexOf("=");
  if (equals <= 0) throw new InputError(`${name} "${annotation}" is not KEY=VALUE.`);
  const left = annotation.slice(0, equals).trim();
  const value = annotation.slice(equals + 1);
  const colon = left.indexOf(":");
  if (colon < 0) return [`annotation.${left}`, value];
  const type = left.slice(0, colon);
  if (!ANNOTATION_TYPES.has(type.replace(/\[.*\]$/, ""))) {
    throw new InputError(
      `${name} "${annotation}" has the type "${type}"; use manifest, index, manifest-descriptor or index-descriptor.`,
    );
  }
  return [`annotation-${type}.${left.slice(colon + 1)}`, value];
}

/** `true`, `false`, or the attestation's own options (`mode=max`, `generator=IMAGE`). */
function attestations(inputs: ImageInputs, names: ImageInputNames): Record<string, string> {
  const attrs: Record<string, string> = {};
  const provenance = inputs.provenance?.trim();
  if (provenance && provenance !== "false") {
    attrs["attest:provenance"] =
      provenance === "true" ? "mode=min" : checkOptions(provenance, names.provenance);
  }
  const sbom = inputs.sbom?.trim();
  if (sbom && sbom !== "false") attrs["attest:sbom"] = sbom === "true" ? "" : checkOptions(sbom, names.sbom);
  return attrs;
}

function checkOptions(value: string, name: string): string {
  if (!value.split(",").every((option) => /^[a-z-]+=.+$/.test(option.trim()))) {
    throw new InputError(`${name} "${value}" is not true, false or KEY=VALUE options such as mode=max.`);
  }
  return value;
}
