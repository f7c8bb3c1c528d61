import { beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import { TlsConfigError } from "../../src/buildkit/errors.js";
import { BUILDCTL_TLS_FLAGS, hasTls, loadTlsMaterial, tlsInputsFromDir } from "../../src/buildkit/tls.js";
import { makeCertificates, type CertificateSet } from "../harness/certs.js";
import { tempDir } from "../helpers/temp.js";

let certs: CertificateSet;
beforeAll(() => {
  certs = makeCertificates(tempDir("rb-tls-test-"));
});

function rejects(inputs: Parameters<typeof loadTlsMaterial>[0], message: RegExp): void {
  assert.throws(
    () => loadTlsMaterial(inputs, BUILDCTL_TLS_FLAGS),
    (error: unknown) => {
      assert.ok(error instanceof TlsConfigError, String(error));
      assert.match(error.message, message);
      return true;
    },
  );
}

describe("loadTlsMaterial", () => {
  it("reads files given by path", () => {
    const material = loadTlsMaterial(
      { caCert: certs.caCert, cert: certs.clientCert, key: certs.clientKey },
      BUILDCTL_TLS_FLAGS,
    );
    assert.deepEqual(material.ca, readFileSync(certs.caCert));
    assert.deepEqual(material.key, readFileSync(certs.clientKey));
    assert.equal(hasTls(material), true);
  });

  it("takes PEM text as it is", () => {
    const key = readFileSync(certs.clientKey, "utf8");
    const material = loadTlsMaterial(
      { caCert: readFileSync(certs.caCert, "utf8"), cert: readFileSync(certs.clientCert, "utf8"), key },
      BUILDCTL_TLS_FLAGS,
    );
    assert.equal(material.key?.toString(), key.trim() + "\n");
  });

  it("has no TLS when nothing is given", () => {
    assert.equal(hasTls(loadTlsMaterial({}, BUILDCTL_TLS_FLAGS)), false);
  });

  it("names an unreadable file and why", () => {
    rejects(
      { caCert: "/nonexistent/ca.pem" },
      /^--tlscacert "\/nonexistent\/ca\.pem" cannot be read: no such file\.$/,
    );
  });

  it("refuses a file that is not PEM", () => {
    const file = join(certs.dir, "garbage.txt");
    writeFileSync(file, "not a certificate");
    rejects({ caCert: file }, /--tlscacert ".*garbage\.txt" is not a PEM file\./);
  });

  it("refuses a key without a certificate, and a certificate without a key", () => {
    rejects({ key: certs.clientKey }, /--tlskey is given without --tlscert/);
    rejects({ cert: certs.clientCert }, /--tlscert is given without --tlskey/);
  });

  it("refuses a key that does not belong to the certificate", () => {
    rejects(
      { cert: certs.clientCert, key: certs.otherClientKey },
      /--tlskey ".*other-client-key\.pem" does not belong to the certificate in --tlscert/,
    );
  });

  it("refuses a PEM file that holds no certificate, without printing its content", () => {
    rejects(
      { caCert: certs.clientKey },
      /^--tlscacert ".*client-key\.pem" is not a valid PEM certificate\.$/,
    );
  });

  it("never prints inline key material in its sentences", () => {
    const key = readFileSync(certs.otherClientKey, "utf8");
    assert.throws(
      () => loadTlsMaterial({ cert: certs.clientCert, key }, BUILDCTL_TLS_FLAGS),
      (error: Error) =>
        !error.message.includes("PRIVATE KEY") && /^--tlskey does not belong/.test(error.message),
    );
  });

  it("reports a path that cannot be read as a file", () => {
    rejects(
      { cert: certs.dir, key: certs.clientKey },
      /^--tlscert ".*" cannot be read: it is a directory\.$/,
    );
  });
});

describe("tlsInputsFromDir", () => {
  it("finds buildctl's file names", () => {
    const dir = tempDir("rb-tlsdir-");
    copyFileSync(certs.caCert, join(dir, "ca.pem"));
    copyFileSync(certs.clientCert, join(dir, "tls.crt"));
    copyFileSync(certs.clientKey, join(dir, "key.pem"));
    assert.deepEqual(tlsInputsFromDir(dir), {
      caCert: join(dir, "ca.pem"),
      cert: join(dir, "tls.crt"),
      key: join(dir, "key.pem"),
    });
  });

  it("names a directory that does not exist", () => {
    assert.throws(
      () => tlsInputsFromDir("/nonexistent-tls"),
      /TLS directory "\/nonexistent-tls" does not exist/,
    );
  });
});
