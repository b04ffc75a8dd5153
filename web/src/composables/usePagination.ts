// A list read page by page through the API's cursor: never loaded whole.
import { ref, shallowRef, type Ref } from 'vue'
import type { Page } from '@/api/types'

/** The state of a cursor-paginated list and how to move it. */
export interface Paginated<T> {
  items: Ref<T[]>
  loading: Ref<boolean>
  error: Ref<unknown>
  hasMore: Ref<boolean>
  loadMore: () => Promise<void>
  reload: () => Promise<void>
}

/** Follows `next_cursor` one page at a time; `reload` starts again (e.g. when filters change). */
export function usePagination<T>(fetchPage: (cursor: string | null) => Promise<Page<T>>): Paginated<T> {
  const items = shallowRef<T[]>([]) as Ref<T[]>
  const loading = ref(false)
  const error = shallowRef<unknown>(null)
  const hasMore = ref(true)
  let cursor: string | null = null
  let generation = 0

  async function loadMore(): Promise<void> {
    if (loading.value || !hasMore.value) return
    const mine = generation
    loading.value = true
    error.value = null
    try {
      const page = await fetchPage(cursor)
      if (mine !== generation) return // a reload started meanwhile: this page belongs to the old filters
      items.value = [...items.value, ...page.items]
      cursor = page.next_cursor
      hasMore.value = page.next_cursor !== null
    } catch (e) {
      if (mine === generation) error.value = e
    } finally {
      if (mine === generation) loading.value = false
    }
  }

  async function reload(): Promise<void> {
    generation += 1
    items.value = []
    cursor = null
    hasMore.value = true
    loading.value = false
    await loadMore()
  }

  return { items, loading, error, hasMore, loadMore, reload }
}

/** Reads every page of a list (for figures that count a whole set), reporting how many were read. */
export async function walkPages<T>(fetchPage: (cursor: string | null) => Promise<Page<T>>, onCount: (n: number) => void = () => {}, maxPages = 200): Promise<T[]> {
  const all: T[] = []
  let cursor: string | null = null
  for (let i = 0; i < maxPages; i += 1) {
    const page: Page<T> = await fetchPage(cursor)
    all.push(...page.items)
    onCount(all.length)
    if (page.next_cursor === null) break
    cursor = page.next_cursor
  }
  return all
}
