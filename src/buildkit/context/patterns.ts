// .dockerignore patterns with the semantics of moby/patternmatcher, which BuildKit's fsutil uses
// for the include and exclude patterns the daemon sends: `*`, `?`, `[...]`, `**` across
// directories, `\` escapes, and `!` exceptions where the last matching pattern wins.
import { posix } from "node:path";
import { BuildkitError } from "../errors.js";

interface Pattern {
  text: string;
  exclusion: boolean;
  regex: RegExp;
  /** One regex per path segment, for couldMatchInside; undefined for a segment with `**`. */
  segments: Array<RegExp | undefined>;
}

const REGEX_SPECIALS = new Set([".", "+", "(", ")", "|", "{", "}", "$", "^"]);

function compile(text: string): RegExp {
  let source = "^";
  const chars = [...text];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === "*") {
      if (chars[i + 1] === "*") {
        i++;
        if (chars[i + 1] === "/") i++;
        // `**` at the end takes everything; elsewhere any number of whole directories.
        source += i + 1 >= chars.length ? ".*" : "(.*/)?";
      } else {
        source += "[^/]*";
      }
    } else if (ch === "?") {
      source += "[^/]";
    } else if (ch === "\\") {
      const next = chars[i + 1];
      if (next === undefined) source += "\\\\";
      else {
        source += escapeRegex(next);
        i++;
      }
    } else if (ch === "[" || ch === "]") {
      source += ch;
    } else if (REGEX_SPECIALS.has(ch)) {
      source += `\\${ch}`;
    } else {
      source += ch;
    }
  }
  return new RegExp(`${source}$`, "u");
}

function escapeRegex(ch: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(ch) ? `\\${ch}` : ch;
}

/** Cleans one pattern as moby does: trims, drops a leading slash, resolves `.` and `..`. */
function clean(text: string): string {
  let cleaned = posix.normalize(text.trim());
  if (cleaned.length > 1 && cleaned.startsWith("/")) cleaned = cleaned.slice(1);
  if (cleaned.length > 1 && cleaned.endsWith("/")) cleaned = cleaned.slice(0, -1);
  return cleaned;
}

export class PatternError extends BuildkitError {
  override name = "PatternError";
}

/** Characters that make a pattern a glob; a pattern without them names one path. */
const GLOB_CHARACTERS = /[*?[\\]/;

export class PatternMatcher {
  private readonly patterns: Pattern[];
  /**
   * With no `!` exception, the order of patterns does not matter, and the patterns that name one
   * path (followpaths, mostly: a COPY of 10,000 files sends 10,000) are looked up in sets instead
   * of tested one by one, which made the walk quadratic.
   */
  private readonly literal: { paths: Set<string>; parents: Set<string>; globs: Pattern[] } | undefined;

  constructor(patterns: readonly string[]) {
    this.patterns = [];
    for (const raw of patterns) {
      let text = raw.trim();
      if (text === "") continue;
      const exclusion = text.startsWith("!");
      if (exclusion) text = text.slice(1).trim();
      if (text === "") throw new PatternError(`Illegal exclusion pattern "${raw}".`);
      text = clean(text);
      try {
        this.patterns.push({
          text,
          exclusion,
          regex: compile(text),
          segments: text.split("/").map((segment) => (segment.includes("**") ? undefined : compile(segment))),
        });
      } catch {
        throw new PatternError(`Pattern "${raw}" is not a valid pattern.`);
      }
    }
    if (!this.hasExclusions) {
      const paths = new Set<string>();
      const parents = new Set<string>();
      const globs: Pattern[] = [];
      for (const pattern of this.patterns) {
        if (GLOB_CHARACTERS.test(pattern.text)) {
          globs.push(pattern);
          continue;
        }
        paths.add(pattern.text);
        const segments = pattern.text.split("/");
        for (let i = 1; i < segments.length; i++) parents.add(segments.slice(0, i).join("/"));
      }
      this.literal = { paths, parents, globs };
    }
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** Whether any pattern is an `!` exception, which can re-include paths inside a match. */
  get hasExclusions(): boolean {
    return this.patterns.some((pattern) => pattern.exclusion);
  }

  /** moby's MatchesOrParentMatches: the path or one of its parents matches; the last pattern wins. */
  matches(path: string): boolean {
    if (this.literal) return this.matchesWithoutExclusions(path, this.literal);
    const parents = path.split("/").slice(0, -1);
    let matched = false;
    for (const pattern of this.patterns) {
      if (pattern.exclusion !== matched) continue;
      let match = pattern.regex.test(path);
      for (let i = 1; !match && i <= parents.length; i++) {
        match = pattern.regex.test(parents.slice(0, i).join("/"));
      }
      if (match) matched = !pattern.exclusion;
    }
    return matched;
  }

  /** matches() when no pattern is an exception: any pattern matching the path or a parent. */
  private matchesWithoutExclusions(path: string, literal: { paths: Set<string>; globs: Pattern[] }): boolean {
    const segments = path.split("/");
    for (let i = 1; i <= segments.length; i++) {
      if (literal.paths.has(i === segments.length ? path : segments.slice(0, i).join("/"))) return true;
    }
    return literal.globs.some((pattern) => {
      if (pattern.regex.test(path)) return true;
      for (let i = 1; i < segments.length; i++) {
        if (pattern.regex.test(segments.slice(0, i).join("/"))) return true;
      }
      return false;
    });
  }

  /**
   * Whether some non-exception pattern could match a path strictly inside `dir`: used to decide
   * whether a directory that is not included itself must still be walked.
   */
  couldMatchInside(dir: string): boolean {
    const dirSegments = dir.split("/");
    if (this.literal) {
      if (this.literal.parents.has(dir)) return true;
      return this.literal.globs.some((pattern) => prefixCompatible(pattern.segments, dirSegments));
    }
    return this.patterns.some(
      (pattern) => !pattern.exclusion && prefixCompatible(pattern.segments, dirSegments),
    );
  }
}

/** Compiled once per pattern: this runs for every directory the walk meets. */
function prefixCompatible(patternSegments: Array<RegExp | undefined>, dirSegments: string[]): boolean {
  for (let i = 0; i < dirSegments.length; i++) {
    if (i >= patternSegments.length) return false;
    const segment = patternSegments[i];
    if (segment === undefined) return true;
    if (!segment.test(dirSegments[i]!)) return false;
  }
  return patternSegments.length > dirSegments.length;
}
