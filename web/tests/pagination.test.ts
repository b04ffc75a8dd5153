import { describe, expect, it } from 'vitest'
import { usePagination, walkPages } from '@/composables/usePagination'
import type { Page } from '@/api/types'

/** A fake API over `n` numbers, `size` per page, recording the cursors it was asked for. */
function api(n: number, size: number) {
  const asked: (string | null)[] = []
  const fetchPage = async (cursor: string | null): Promise<Page<number>> => {
    asked.push(cursor)
    const start = cursor === null ? 0 : Number(cursor)
    const items = Array.from({ length: Math.max(0, Math.min(size, n - start)) }, (_, i) => start + i)
    return { items, next_cursor: start + size < n ? String(start + size) : null }
  }
  return { asked, fetchPage }
}

describe('cursor pagination', () => {
  it('loads one page at a time, following next_cursor, and stops at the end', async () => {
    const { asked, fetchPage } = api(5, 2)
    const p = usePagination(fetchPage)
    await p.reload()
    expect(p.items.value).toEqual([0, 1])
    expect(p.hasMore.value).toBe(true)
    await p.loadMore()
    await p.loadMore()
    expect(p.items.value).toEqual([0, 1, 2, 3, 4])
    expect(p.hasMore.value).toBe(false)
    await p.loadMore()
    expect(asked).toEqual([null, '2', '4'])
  })

  it('starts again from the first page on reload (new filters)', async () => {
    const { asked, fetchPage } = api(5, 2)
    const p = usePagination(fetchPage)
    await p.reload()
    await p.loadMore()
    await p.reload()
    expect(p.items.value).toEqual([0, 1])
    expect(asked).toEqual([null, '2', null])
  })

  it('drops a page that arrives after a reload began', async () => {
    let release: (v: Page<string>) => void = () => {}
    const calls: string[] = []
    const p = usePagination<string>((cursor) => {
      calls.push(String(cursor))
      if (calls.length === 1) return new Promise((r) => { release = r })
      return Promise.resolve({ items: ['new'], next_cursor: null })
    })
    const first = p.reload()
    await p.reload()
    release({ items: ['old'], next_cursor: 'x' })
    await first
    expect(p.items.value).toEqual(['new'])
    expect(p.hasMore.value).toBe(false)
  })

  it('keeps the error and the items so far when a page fails, and can try again', async () => {
    let fail = true
    const p = usePagination<number>(async (cursor) => {
      if (cursor === '1' && fail) throw new Error('down')
      return cursor === null ? { items: [0], next_cursor: '1' } : { items: [1], next_cursor: null }
    })
    await p.reload()
    await p.loadMore()
    expect(p.error.value).toBeInstanceOf(Error)
    expect(p.items.value).toEqual([0])
    fail = false
    await p.loadMore()
    expect(p.error.value).toBeNull()
    expect(p.items.value).toEqual([0, 1])
  })

  it('walks every page for a count, reporting progress, within a page budget', async () => {
    const { fetchPage } = api(7, 3)
    const seen: number[] = []
    expect(await walkPages(fetchPage, (n) => seen.push(n))).toEqual([0, 1, 2, 3, 4, 5, 6])
    expect(seen).toEqual([3, 6, 7])
    expect(await walkPages(api(100, 10).fetchPage, () => {}, 2)).toHaveLength(20)
  })
})
