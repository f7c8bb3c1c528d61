// Throwaway certificates for the test runner, made with openssl: a CA, a server certificate for
// 127.0.0.1 and localhost, a client certificate, and a second unrelated CA with its own client
// certificate for the "not signed by the runner's CA" cases.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface CertificateSet {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  otherCaCert: string;
  otherClientCert: string;
  otherClientKey: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/**
 * A self-signed P-256 certificate and its key, DIR/NAME.pem and DIR/NAME-key.pem, with the given
 * `-addext` extensions (none for a plain signing certificate).
 */
export function makeSelfSigned(dir: string, name: string, subject: string, extensions: string[] = []): void {
  openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      `${name}-key.pem`,
      "-out",
      `${name}.pem`,
      "-days",
      "7",
      "-subj",
      subject,
      ...extensions.flatMap((extension) => ["-addext", extension]),
    ],
    dir,
  );
}

function makeCa(dir: string, name: string, subject: string): void {
  makeSelfSigned(dir, name, subject, [
    "basicConstraints=critical,CA:TRUE",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
}

function makeLeaf(dir: string, ca: string, name: string, subject: string, extensions: string): void {
  openssl(
    [
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      `${name}-key.pem`,
      "-out",
      `${name}.csr`,
      "-subj",
      subject,
    ],
    dir,
  );
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(
    [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${ca}.pem`,
      "-CAkey",
      `${ca}-key.pem`,
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "7",
      "-extfile",
      `${name}.ext`,
    ],
    dir,
  );
}

export function makeCertificates(dir: string): CertificateSet {
  mkdirSync(dir, { recursive: true });
  makeCa(dir, "ca", "/CN=remote-buildkit test CA");
  makeLeaf(
    dir,
    "ca",
    "server",
    "/CN=localhost",
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
  );
  makeLeaf(dir, "ca", "client", "/CN=remote-buildkit test client", "extendedKeyUsage=clientAuth\n");
  makeCa(dir, "other-ca", "/CN=unrelated test CA");
  makeLeaf(dir, "other-ca", "other-client", "/CN=unrelated client", "extendedKeyUsage=clientAuth\n");
  const file = (name: string) => join(dir, name);
  return {
    dir,
    caCert: file("ca.pem"),
    serverCert: file("server.pem"),
    serverKey: file("server-key.pem"),
    clientCert: file("client.pem"),
    clientKey: file("client-key.pem"),
    otherCaCert: file("other-ca.pem"),
    otherClientCert: file("other-client.pem"),
    otherClientKey: file("other-client-key.pem"),
  };
}
