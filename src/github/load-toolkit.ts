// Loads toolkit.ts when a step first needs it: its own bundle beside this one in dist/, or the
// module itself from the sources (tsx, the tests).
type Toolkit = typeof import("./toolkit.js");

const TOOLKIT = import.meta.url.endsWith(".ts") ? "./toolkit.ts" : "./github-toolkit.mjs";

let loading: Promise<Toolkit> | undefined;

export function loadToolkit(): Promise<Toolkit> {
  loading ??= import(/* webpackIgnore: true */ TOOLKIT) as Promise<Toolkit>;
  return loading;
}
