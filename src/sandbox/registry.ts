/**
 * Every sandbox this process started and has not torn down yet, so that a signal handler can tear them all
 * down even if the stage that owns one is stuck.
 */
interface Stoppable {
  stop(): Promise<unknown>;
}

const live = new Set<Stoppable>();

export function registerSandbox(s: Stoppable): void {
  live.add(s);
}

export function unregisterSandbox(s: Stoppable): void {
  live.delete(s);
}

/** Tear down every live sandbox (used on SIGINT/SIGTERM and at exit). */
export async function stopAllSandboxes(): Promise<void> {
  await Promise.allSettled([...live].map((s) => s.stop()));
}

/** How many sandboxes are live (tests). */
export function liveSandboxCount(): number {
  return live.size;
}
