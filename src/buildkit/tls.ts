// TLS material for a runner connection, each piece given as PEM text or as a file path.
import { X509Certificate, createPrivateKey } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { TlsConfigError } from "./errors.js";

/** What the user gave: PEM text or a path, per piece. */
export interface TlsInputs {
  caCert?: string;
  cert?: string;
  key?: string;
  serverName?: string;
}

/** The names of the inputs as the user knows them, for error sentences. */
export interface TlsInputNames {
  caCert: string;
  cert: string;
  key: string;
}

export const BUILDCTL_TLS_FLAGS: TlsInputNames = {
  caCert: "--tlscacert",
  cert: "--tlscert",
  key: "--tlskey",
};

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  serverName?: string;
}

export function isPemText(value: string): boolean {
  return value.includes("-----BEGIN ");
}

const READ_FAILURES: Record<string, string> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EISDIR: "it is a directory",
};

function readPiece(value: string | undefined, name: string): Buffer | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  if (isPemText(value)) return Buffer.from(value.trim() + "\n");
  const path = value.trim();
  let content: Buffer;
  try {
    content = readFileSync(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    const why = READ_FAILURES[reason] ?? reason;
    throw new TlsConfigError(`${name} "${path}" cannot be read: ${why}.`);
  }
  if (!isPemText(content.toString("latin1"))) {
    throw new TlsConfigError(`${name} "${path}" is not a PEM file.`);
  }
  return content;
}

function describe(value: string | undefined): string {
  return value !== undefined && !isPemText(value) ? ` "${value.trim()}"` : "";
}

/**
 * Loads and checks the material: certificates parse, the key parses and belongs to the
 * certificate, and a key never comes without its certificate (or the other way round).
 */
export function loadTlsMaterial(inputs: TlsInputs, names: TlsInputNames): TlsMaterial {
  const ca = readPiece(inputs.caCert, names.caCert);
  const cert = readPiece(inputs.cert, names.cert);
  const key = readPiece(inputs.key, names.key);
  if (key && !cert) {
    throw new TlsConfigError(`${names.key} is given without ${names.cert}: give both or neither.`);
  }
  if (cert && !key) {
    throw new TlsConfigError(`${names.cert} is given without ${names.key}: give both or neither.`);
  }
  if (ca) parseCertificate(ca, names.caCert + describe(inputs.caCert));
  if (cert && key) {
    const certificate = parseCertificate(cert, names.cert + describe(inputs.cert));
    let privateKey;
    try {
      privateKey = createPrivateKey(key);
    } catch {
      throw new TlsConfigError(`${names.key}${describe(inputs.key)} is not a valid private key.`);
    }
    if (!certificate.checkPrivateKey(privateKey)) {
      throw new TlsConfigError(
        `${names.key}${describe(inputs.key)} does not belong to the certificate in ${names.cert}${describe(inputs.cert)}.`,
      );
    }
  }
  const serverName = inputs.serverName?.trim() || undefined;
  return { ca, cert, key, serverName };
}

function parseCertificate(pem: Buffer, name: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new TlsConfigError(`${name} is not a valid PEM certificate.`);
  }
}

export function hasTls(material: TlsMaterial): boolean {
  return material.ca !== undefined || material.cert !== undefined;
}

/** buildctl's --tlsdir: ca.pem|ca.crt, cert.pem|tls.crt, key.pem|tls.key inside one directory. */
export function tlsInputsFromDir(dir: string): TlsInputs {
  const pick = (...names: string[]) => names.map((name) => join(dir, name)).find((path) => existsSync(path));
  if (!existsSync(dir)) throw new TlsConfigError(`TLS directory "${dir}" does not exist.`);
  return {
    caCert: pick("ca.pem", "ca.crt"),
    cert: pick("cert.pem", "tls.crt"),
    key: pick("key.pem", "tls.key"),
  };
}
