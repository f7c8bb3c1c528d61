// GitHub Actions' workflow commands, written as the runner reads them: inputs and state from the
// environment, outputs and state through the files GitHub names (GITHUB_OUTPUT, GITHUB_STATE,
// GITHUB_STEP_SUMMARY), and `::command properties::message` lines on stdout for masks,
// annotations, groups and debug lines. Our own, not @actions/core's: that library brings an HTTP
// client (for OIDC tokens, which we never ask for) that was a million bytes of every step's bundle.
// Its behaviour is the reference: test/unit/workflow-commands.test.ts compares the two.
import { randomUUID } from "node:crypto";
import { appendFileSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import { EOL } from "node:os";

/** Where an annotation points, and its title (the names GitHub's commands take). */
export interface AnnotationProperties {
  title?: string;
  file?: string;
  startLine?: number;
  endLine?: number;
}

/** An input's value, trimmed; empty when it was not given. */
export function getInput(name: string): string {
  return (process.env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] ?? "").trim();
}

/** An input's lines, trimmed, without the empty ones. */
export function getMultilineInput(name: string): string[] {
  return getInput(name)
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.trim());
}

/** A value this action's main step saved for its post step. */
export function getState(name: string): string {
  return process.env[`STATE_${name}`] ?? "";
}

export function saveState(name: string, value: string): void {
  if (!writeKeyValue("GITHUB_STATE", name, value)) issue("save-state", { name }, value);
}

export function setOutput(name: string, value: string): void {
  if (writeKeyValue("GITHUB_OUTPUT", name, value)) return;
  process.stdout.write(EOL);
  issue("set-output", { name }, value);
}

/** Asks the runner to mask `secret` wherever it appears whole in the log from now on. */
export function setSecret(secret: string): void {
  issue("add-mask", {}, secret);
}

export function info(message: string): void {
  process.stdout.write(message + EOL);
}

export function debug(message: string): void {
  issue("debug", {}, message);
}

export function warning(message: string, properties: AnnotationProperties = {}): void {
  issue("warning", annotationFields(properties), message);
}

export function error(message: string, properties: AnnotationProperties = {}): void {
  issue("error", annotationFields(properties), message);
}

/** Runs `body` with its log lines in a collapsed group titled `name`. */
export async function group<T>(name: string, body: () => Promise<T>): Promise<T> {
  issue("group", {}, name);
  try {
    return await body();
  } finally {
    issue("endgroup", {}, "");
  }
}

/** Appends markdown to the job's summary page, where the runner gives one (else nothing). */
export async function appendSummary(markdown: string): Promise<void> {
  const path = process.env.GITHUB_STEP_SUMMARY;
  if (path) await appendFile(path, markdown, { encoding: "utf8" });
}

/** The command's fields in GitHub's names: line and endLine, as @actions/core maps them. */
function annotationFields(properties: AnnotationProperties): Record<string, string | number | undefined> {
  return {
    title: properties.title,
    file: properties.file,
    line: properties.startLine,
    endLine: properties.endLine,
  };
}

/** Writes a name and value to the file GitHub names in `fileVariable`; false without one. */
function writeKeyValue(fileVariable: string, name: string, value: string): boolean {
  const path = process.env[fileVariable];
  if (!path) return false;
  // A heredoc whose delimiter cannot occur in the name or the value.
  const delimiter = `ghadelimiter_${randomUUID()}`;
  if (name.includes(delimiter) || value.includes(delimiter)) {
    throw new Error(`the value of ${name} holds the delimiter chosen for it`);
  }
  appendFileSync(path, `${name}<<${delimiter}${EOL}${value}${EOL}${delimiter}${EOL}`, { encoding: "utf8" });
  return true;
}

function issue(
  command: string,
  properties: Record<string, string | number | undefined>,
  message: string,
): void {
  const fields = Object.entries(properties)
    .filter(([, value]) => Boolean(value))
    .map(([key, value]) => `${key}=${escapeProperty(String(value))}`);
  const head = fields.length > 0 ? `::${command} ${fields.join(",")}` : `::${command}`;
  process.stdout.write(`${head}::${escapeData(message)}${EOL}`);
}

function escapeData(text: string): string {
  return text.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, "%3A").replace(/,/g, "%2C");
}
