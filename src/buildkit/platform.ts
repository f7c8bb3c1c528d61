// Platforms as BuildKit writes and compares them: os/arch[/variant], normalized as containerd's
// platforms package does (linux/arm64/v8 is linux/arm64, linux/arm is linux/arm/v7).

export interface Platform {
  os: string;
  architecture: string;
  /** Absent where the architecture has none, or its default (arm64's v8, amd64's v1). */
  variant?: string;
}

export function formatPlatform(platform: { os: string; architecture: string; variant?: string }): string {
  const parts = [platform.os, platform.architecture];
  if (platform.variant) parts.push(platform.variant);
  return parts.join("/");
}

const ARCH_ALIASES: Record<string, string> = {
  x86_64: "amd64",
  "x86-64": "amd64",
  x86: "386",
  i386: "386",
  aarch64: "arm64",
};

/** The spelling BuildKit compares. */
export function normalizePlatform(platform: Platform): Platform {
  const os = platform.os.toLowerCase();
  const raw = platform.architecture.toLowerCase();
  let variant = platform.variant?.toLowerCase() || undefined;
  if (raw === "armhf") return { os, architecture: "arm", variant: "v7" };
  if (raw === "armel") return { os, architecture: "arm", variant: "v6" };
  const architecture = ARCH_ALIASES[raw] ?? raw;
  if (
    variant !== undefined &&
    /^\d+$/.test(variant) &&
    (architecture === "arm" || architecture === "arm64")
  ) {
    variant = `v${variant}`;
  }
  if (architecture === "arm64" && variant === "v8") variant = undefined;
  if (architecture === "amd64" && variant === "v1") variant = undefined;
  if (architecture === "arm" && variant === undefined) variant = "v7";
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** `os/arch[/variant]`, normalized; undefined for text of another shape. */
export function parsePlatform(text: string): Platform | undefined {
  const match = /^([a-z0-9_.-]+)\/([a-z0-9_.-]+)(?:\/([a-z0-9_.-]+))?$/i.exec(text.trim());
  if (!match) return undefined;
  return normalizePlatform({ os: match[1]!, architecture: match[2]!, variant: match[3] });
}
