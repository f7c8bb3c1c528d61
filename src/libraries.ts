// Libraries that only some runs need, evaluated when first asked for: a runner list's YAML, a
// version pin's semver range, a started runner's buildkitd.toml. Evaluating them at start cost
// every build about 7 ms (yaml and semver together; a cached build takes 0.2 s). `webpackMode:
// "eager"` keeps each in the bundle that asks for it; only its evaluation waits.
export function loadYaml(): Promise<typeof import("yaml")> {
  return import(/* webpackMode: "eager" */ "yaml");
}

export async function loadSemver(): Promise<typeof import("semver")> {
  return (await import(/* webpackMode: "eager" */ "semver")).default;
}

export function loadToml(): Promise<typeof import("smol-toml")> {
  return import(/* webpackMode: "eager" */ "smol-toml");
}
