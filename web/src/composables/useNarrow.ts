// Whether the screen is phone-narrow, following the window as it changes.
import { onScopeDispose, ref, type Ref } from 'vue'

/** True below `px` wide (600 by default), updated when the window is resized or rotated. */
export function useNarrow(px = 600): Ref<boolean> {
  const query = window.matchMedia(`(max-width: ${px}px)`)
  const narrow = ref(query.matches)
  const update = (e: MediaQueryListEvent): void => { narrow.value = e.matches }
  query.addEventListener('change', update)
  onScopeDispose(() => query.removeEventListener('change', update))
  return narrow
}
