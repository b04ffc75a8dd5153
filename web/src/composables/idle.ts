// Work that can wait for the page to be drawn: run when the browser is idle.

/** Runs `work` when the browser is idle (after `timeout` ms at the latest); a short timeout where
 * requestIdleCallback is missing. Returns a function that cancels it. */
export function whenIdle(work: () => void, timeout = 1500): () => void {
  if ('requestIdleCallback' in window) {
    const id = window.requestIdleCallback(work, { timeout })
    return () => window.cancelIdleCallback(id)
  }
  const id = setTimeout(work, 50)
  return () => clearTimeout(id)
}
