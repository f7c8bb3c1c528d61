// The Reporter on workflow commands (workflow-commands.ts): log groups, warnings and errors as
// annotations, debug lines.
import * as core from "./workflow-commands.js";
import { annotationFile } from "../report/build-summary.js";
import { escapeControlCharacters as visible } from "../report/control-characters.js";
import type { Annotation, Reporter } from "../report/reporter.js";

export class GithubReporter implements Reporter {
  info(message: string): void {
    core.info(visible(message));
  }
  warning(message: string, annotation?: Annotation): void {
    core.warning(visible(message), annotationProperties(annotation));
  }
  error(message: string, annotation?: Annotation): void {
    core.error(visible(message), annotationProperties(annotation));
  }
  debug(message: string): void {
    core.debug(visible(message));
  }
  group<T>(title: string, body: () => Promise<T>): Promise<T> {
    return core.group(visible(title), body);
  }
}

/** The annotation on the file and lines, relative to the workspace, where GitHub looks for them. */
function annotationProperties(annotation: Annotation | undefined): core.AnnotationProperties {
  if (!annotation) return {};
  const { title, location } = annotation;
  if (!location) return { title };
  return {
    title,
    file: annotationFile(location, process.env.GITHUB_WORKSPACE ?? process.cwd()),
    startLine: location.startLine,
    endLine: location.endLine,
  };
}
