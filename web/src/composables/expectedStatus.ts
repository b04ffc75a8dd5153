// After an action whose effect reaches the status through another service (applying for sign-off goes to
// verification, and the issues service hears of it a moment later), the page shows the status the action leads to
// and reloads until the service shows a change, instead of showing the old status as if nothing had happened.
import { reactive } from 'vue'

export interface ExpectOptions { interval: number; tries: number }

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** `reload` reads the list again; `current(id)` is the status the list now shows for an issue (undefined if gone). */
export function useExpectedStatus(reload: () => Promise<void>, current: (id: string) => string | undefined,
  options: ExpectOptions = { interval: 1000, tries: 15 }) {
  const expected = reactive(new Map<string, string>())

  /** Shows `to` for the issue until the list shows anything other than `from` (or the tries run out). */
  async function follow(id: string, from: string, to: string): Promise<void> {
    expected.set(id, to)
    try {
      for (let i = 0; i < options.tries; i += 1) {
        await sleep(options.interval)
        await reload()
        if (current(id) !== from) return
      }
    } finally { expected.delete(id) }
  }

  /** The status to show: the one an action leads to while the service catches up, else the service's own. */
  const shown = (id: string, status: string): string => expected.get(id) ?? status
  const pending = (id: string): boolean => expected.has(id)
  return { follow, shown, pending }
}
