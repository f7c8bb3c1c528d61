// The image a build produces: its names, whether it is pushed, and how it is written (media
// types, compression, annotations); and the attestations asked of the frontend. The parsers are
// the input table's; planImage checks what the inputs say together.
import { InputError } from "../errors.js";
import { formatPlatform } from "../buildkit/index.js";
import { parseChoice, parsePlatforms, splitKeyValue } from "../values.js";

export interface ImagePlan {
  /** The image's names (tags); none when the build exports no image of its own. */
  names: string[];
  push: boolean;
  pushByDigest: boolean;
  /** OCI media types (true) or Docker's (false); BuildKit's default when undefined. */
  ociMediatypes?: boolean;
  compression?: Compression;
  /** Annotations as the image exporter's attributes: annotation[-TYPE].KEY. */
  annotations: Record<string, string>;
}

export const COMPRESSIONS = ["gzip", "zstd", "estargz", "uncompressed"] as const;
export type Compression = (typeof COMPRESSIONS)[number];

const ANNOTATION_TYPES = new Set(["manifest", "index", "manifest-descriptor", "index-descriptor"]);
// A reference as docker parses one, loosely: lower-case repository path, optional tag or digest.
const IMAGE_NAME =
  /^[a-z0-9]+([._-][a-z0-9]+)*(:\d+)?(\/[a-z0-9]+([._-]{1,2}[a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

/** Image names, such as registry.example.com/team/app:1.2. */
export function parseImageNames(items: string[], name: string): string[] {
  for (const tag of items) {
    if (!IMAGE_NAME.test(tag)) {
      throw new InputError(
        `${name} "${tag}" is not an image name, such as registry.example.com/team/app:1.2.`,
      );
    }
  }
  return items;
}

export function parseCompression(value: string | undefined, name: string): Compression | undefined {
  const compression = value?.trim();
  if (!compression) return undefined;
  return parseChoice(compression, name, COMPRESSIONS);
}

/**
 * buildx's annotation lines, `[TYPE[,TYPE...]:]KEY=VALUE` where each TYPE may name a platform in
 * brackets (`manifest[linux/arm64]`), into the image exporter's attributes as BuildKit reads them:
 * `annotation[-TYPE][PLATFORM].KEY`. BuildKit keeps a platform only on manifest annotations.
 */
export function parseAnnotations(items: string[], name: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const annotation of items) {
    const [left, value] = splitKeyValue(annotation);
    if (left === "" || value === undefined) throw new InputError(`${name} "${annotation}" is not KEY=VALUE.`);
    const colon = left.indexOf(":");
    if (colon < 0) {
      attrs[`annotation.${left}`] = value;
      continue;
    }
    const key = left.slice(colon + 1);
    if (key === "") throw new InputError(`${name} "${annotation}" has no key; write it as TYPE:KEY=VALUE.`);
    for (const typed of left.slice(0, colon).split(",")) {
      const match = /^([a-z-]*)(?:\[([^\]]*)\])?$/.exec(typed);
      const type = match?.[1] ?? typed;
      if (!match || (type !== "" && !ANNOTATION_TYPES.has(type))) {
        throw new InputError(
          `${name} "${annotation}" has the type "${typed}"; use manifest, index, manifest-descriptor or index-descriptor, each with an optional [PLATFORM].`,
        );
      }
      const platform =
        match[2] === undefined
          ? undefined
          : parsePlatforms([match[2]], `The platform in ${name} "${annotation}"`)[0];
      const scoped = platform && type.startsWith("manifest") ? `[${formatPlatform(platform)}]` : "";
      attrs[`annotation${type ? `-${type}` : ""}${scoped}.${key}`] = value;
    }
  }
  return attrs;
}

/**
 * An attestation: `true`, `false`, or its own options (`mode=max`, `generator=IMAGE`), as the
 * frontend's attest:* attribute; undefined when off. `whenTrue` is what `true` asks for.
 */
export function parseAttestation(
  value: string | undefined,
  name: string,
  whenTrue: string,
): string | undefined {
  const text = value?.trim();
  if (!text || text === "false") return undefined;
  if (text === "true") return whenTrue;
  if (!text.split(",").every((option) => /^[a-z-]+=.+$/.test(option.trim()))) {
    throw new InputError(`${name} "${text}" is not true, false or KEY=VALUE options such as mode=max.`);
  }
  return text;
}

/**
 * buildx's --attest (build-push-action's attests): `type=provenance|sbom[,KEY=VALUE…]` per item;
 * `disabled=true` turns that type off. Per type: its options, null when disabled, absent when not given.
 */
export interface AttestsInput {
  provenance?: string | null;
  sbom?: string | null;
}

export function parseAttests(items: string[], name: string): AttestsInput {
  const attests: AttestsInput = {};
  for (const item of items) {
    const options = item.split(",").map((option) => option.trim());
    const type = options.find((option) => option.startsWith("type="))?.slice("type=".length);
    const rest = options.filter((option) => !option.startsWith("type="));
    if (type !== "provenance" && type !== "sbom") {
      throw new InputError(
        `${name} "${item}" needs type=provenance or type=sbom, the attestations BuildKit makes.`,
      );
    }
    if (!rest.every((option) => /^[a-z-]+=.+$/.test(option))) {
      throw new InputError(`${name} "${item}" is not type=${type} with KEY=VALUE options such as mode=max.`);
    }
    const disabled = rest.some((option) => option === "disabled=true");
    attests[type] = disabled ? null : rest.filter((option) => !option.startsWith("disabled=")).join(",");
  }
  return attests;
}

/** The image inputs together: a push needs a name, and pushing by digest needs a push. */
export function planImage(image: ImagePlan, names: { tags: string; pushByDigest: string }): ImagePlan {
  if (image.push && image.names.length === 0) {
    throw new InputError(`Pushing needs at least one name in ${names.tags}.`);
  }
  if (image.pushByDigest && !image.push) throw new InputError(`${names.pushByDigest} needs push.`);
  return image;
}

/** The image exporter's own attributes besides names and push: media types, compression, annotations. */
export function imageAttrs(image: ImagePlan): Record<string, string> {
  const attrs: Record<string, string> = {};
  if (image.ociMediatypes !== undefined) attrs["oci-mediatypes"] = String(image.ociMediatypes);
  if (image.compression) {
    attrs.compression = image.compression;
    attrs["force-compression"] = "true";
  }
  return { ...attrs, ...image.annotations };
}
