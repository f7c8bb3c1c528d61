// A buildx builder store on disk, written as setup-buildx leaves it: docker/buildx's store package
// writes `current` and `instances/<name>` with Go's encoding/json (compact, struct fields in
// declaration order, map keys sorted), and docker/actions-toolkit writes each node's PEM from
// BUILDER_NODE_<i>_AUTH_TLS_* to certs/<cacert|cert|key>_<host>[-<port>].pem, passed as driver-opts.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface StoredNode {
  name: string;
  endpoint: string;
  /** os/arch[/variant] */
  platforms?: string[];
  /** PEM text, written under certs/ as actions-toolkit does. */
  tls?: { ca?: string; cert?: string; key?: string };
  /** Other driver-opts as given (servername, default-load). */
  driverOpts?: Record<string, string>;
}

export interface StoredBuilder {
  name: string;
  driver: string;
  nodes: StoredNode[];
  /** Write `current` naming this builder (docker buildx create --use). */
  current?: boolean;
}

/** Writes `builder` into the buildx config dir `dir`; returns the instance file's text. */
export function writeBuildxBuilder(dir: string, builder: StoredBuilder): string {
  for (const sub of ["instances", "defaults", "activity", "certs"])
    mkdirSync(join(dir, sub), { recursive: true });
  const nodes = builder.nodes.map((node) => {
    const driverOpts: Record<string, string> = { ...node.driverOpts };
    const url = new URL(node.endpoint);
    const suffix = url.port ? `${url.hostname}-${url.port}` : url.hostname;
    for (const [option, pem] of Object.entries({
      cacert: node.tls?.ca,
      cert: node.tls?.cert,
      key: node.tls?.key,
    })) {
      if (pem === undefined) continue;
      const file = join(dir, "certs", `${option}_${suffix}.pem`);
      writeFileSync(file, pem, { mode: 0o600 });
      driverOpts[option] = file;
    }
    return {
      Name: node.name,
      Endpoint: node.endpoint,
      Platforms: node.platforms
        ? node.platforms.map((platform) => {
            const [os, architecture, variant] = platform.split("/");
            return variant ? { architecture, os, variant } : { architecture, os };
          })
        : null,
      DriverOpts: Object.keys(driverOpts).length > 0 ? sortedKeys(driverOpts) : null,
      Flags: null,
      Files: null,
    };
  });
  const text = JSON.stringify({ Name: builder.name, Driver: builder.driver, Nodes: nodes, Dynamic: false });
  writeFileSync(join(dir, "instances", builder.name.toLowerCase()), text, { mode: 0o600 });
  writeFileSync(join(dir, "activity", builder.name), new Date().toISOString().replace(/\.\d+Z$/, "Z"), {
    mode: 0o600,
  });
  if (builder.current) {
    const current = { Key: "unix:///var/run/docker.sock", Name: builder.name, Global: false };
    writeFileSync(join(dir, "current"), JSON.stringify(current), { mode: 0o600 });
  }
  return text;
}

function sortedKeys(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
