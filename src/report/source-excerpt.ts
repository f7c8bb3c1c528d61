// A Dockerfile location as docker buildx prints it under a failure: the file and line, then
// the lines around it with the failing ones marked.
import type { SourceLocation } from "../buildkit/index.js";

const CONTEXT_LINES = 2;

export function formatSourceExcerpt(location: SourceLocation): string {
  const lines = location.sourceLines;
  const first = Math.max(1, location.startLine - CONTEXT_LINES);
  const last = Math.min(lines.length, location.endLine + CONTEXT_LINES);
  const where =
    location.endLine > location.startLine
      ? `${location.startLine}-${location.endLine}`
      : `${location.startLine}`;
  let text = `${location.filename}:${where}\n--------------------\n`;
  for (let line = first; line <= last; line++) {
    const marked = line >= location.startLine && line <= location.endLine;
    text += `${String(line).padStart(4)} | ${marked ? ">>>" : "   "} ${lines[line - 1] ?? ""}\n`;
  }
  return `${text}--------------------\n`;
}
