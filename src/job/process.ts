// What every entry (the action's main step, the CLI) sets up once for the process.
/**
 * Makes SIGINT and SIGTERM abort the returned signal: the job cancels the build on the runner,
 * closes what it opened, and the process exits with its code. end() stops listening.
 */
export function startProcess(): { signal: AbortSignal; end(): void } {
  const controller = new AbortController();
  const handlers = (["SIGINT", "SIGTERM"] as const).map((name) => {
    const handler = () => controller.abort(new Error(`received ${name}`));
    process.once(name, handler);
    return [name, handler] as const;
  });
  return {
    signal: controller.signal,
    end: () => {
      for (const [name, handler] of handlers) process.off(name, handler);
    },
  };
}
