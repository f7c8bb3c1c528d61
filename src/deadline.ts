// Deadlines for calls that take an AbortSignal (downloads, the registry's API).

/**
 * A signal that aborts after timeoutMs or with `signal`. A plain timer rather than
 * AbortSignal.timeout: that one was seen not to fire for 120 s under load here (a download test
 * that should have stopped after 1 s), and a timer we hold and clear is predictable.
 */
export function boundedSignal(
  timeoutMs: number,
  signal: AbortSignal | undefined,
): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`No answer within ${timeoutMs} ms.`, "TimeoutError")),
    timeoutMs,
  );
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    },
  };
}

/** Whether `bounded` (from boundedSignal) ran out of time, rather than being cancelled. */
export function timedOut(bounded: AbortSignal): boolean {
  return bounded.aborted && (bounded.reason as Error | undefined)?.name === "TimeoutError";
}
