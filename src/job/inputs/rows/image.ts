// The input table's rows for the image: its names, push, how it is written, attestations and
// the metadata file.
import { nonEmpty } from "../../../values.js";
import { InputError } from "../../../errors.js";
import {
  parseAnnotations,
  parseAttestation,
  parseAttests,
  parseCompression,
  parseImageNames,
} from "../../image.js";
import { BUILD, list, text, toggle } from "../row.js";

export const IMAGE_INPUTS = {
  tags: list({
    action: "tags",
    cli: {
      flag: "tag",
      short: "t",
      value: "NAME",
      commands: BUILD,
      section: "image",
      help: ["a name for the image, repeated for more"],
    },
    separator: ",",
    parse: (items, { name }) => parseImageNames(items, name),
  }),
  push: toggle({
    action: "push",
    cli: {
      flag: "push",
      commands: BUILD,
      section: "image",
      help: ["push the image to its registry (credentials: see below)"],
    },
    default: "false",
  }),
  pushByDigest: toggle({ action: "push-by-digest", default: "false" }),
  ociMediatypes: text({
    action: "oci-mediatypes",
    parse: (value, { name }) => {
      const text = nonEmpty(value);
      if (text === undefined) return undefined;
      if (text !== "true" && text !== "false")
        throw new InputError(`${name} is "${text}"; use true or false.`);
      return text === "true";
    },
  }),
  compression: text({
    action: "compression",
    parse: (value, { name }) => parseCompression(value, name),
  }),
  annotations: list({
    action: "annotations",
    cli: {
      flag: "annotation",
      value: "KEY=VALUE",
      commands: BUILD,
      section: "image",
      help: ["an OCI annotation, or TYPE:KEY=VALUE (manifest, index, ...)"],
    },
    parse: (items, { name }) => parseAnnotations(items, name),
  }),
  provenance: text({
    action: "provenance",
    cli: {
      flag: "provenance",
      value: "VALUE",
      commands: BUILD,
      section: "image",
      help: ["a provenance attestation: true, false or mode=max"],
    },
    parse: (value, { name }) => parseAttestation(value, name, "mode=min"),
  }),
  sbom: text({
    action: "sbom",
    cli: {
      flag: "sbom",
      value: "VALUE",
      commands: BUILD,
      section: "image",
      help: ["an SBOM attestation: true, false or generator=IMAGE"],
    },
    parse: (value, { name }) => parseAttestation(value, name, ""),
  }),
  attests: list({
    action: "attests",
    cli: {
      flag: "attest",
      value: "type=TYPE,…",
      commands: BUILD,
      section: "image",
      help: ["type=provenance,mode=max or type=sbom, as buildx's --attest"],
    },
    parse: (items, { name }) => parseAttests(items, name),
  }),
  metadataFile: text({
    cli: {
      flag: "metadata-file",
      value: "PATH",
      commands: BUILD,
      section: "image",
      help: ["write the exporter's response (digest, descriptor) as JSON"],
    },
    parse: nonEmpty,
  }),
};
