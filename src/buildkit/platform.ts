// Platforms as BuildKit and the docker CLI write them: os/arch[/variant].
import type { Platform } from "./proto/pb/ops_pb.js";

export function formatPlatform(platform: Pick<Platform, "os" | "architecture" | "variant">): string {
  const parts = [platform.os, platform.architecture];
  if (platform.variant) parts.push(platform.variant);
  return parts.join("/");
}
