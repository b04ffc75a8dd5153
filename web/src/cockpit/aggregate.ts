// The cockpit's figures from a set of issues: counts by status, category and district, overdue share, on-time rate.
import { isClosed } from '@/api/lifecycle'

/** The fields of an issue the cockpit counts. */
export interface Countable {
  id: string
  status: string
  category: string
  region_id?: string | null
  deadline: string
  overdue: boolean
}

/** Every figure of the cockpit. */
export interface Figures {
  total: number
  closed: number
  overdue: number
  due: number
  onTimeRate: number | null
  byStatus: Record<string, number>
  byCategory: Record<string, number>
  byRegion: Record<string, { total: number; overdue: number; share: number }>
}

/** Counts the figures; `today` is the Shanghai date (YYYY-MM-DD) that decides which deadlines have passed. */
export function figuresOf(issues: Countable[], today: string): Figures {
  const f: Figures = { total: 0, closed: 0, overdue: 0, due: 0, onTimeRate: null, byStatus: {}, byCategory: {}, byRegion: {} }
  let dueClosed = 0
  for (const i of issues) {
    f.total += 1
    const closed = isClosed(i.status)
    if (closed) f.closed += 1
    if (i.overdue) f.overdue += 1
    if (i.deadline < today) { f.due += 1; if (closed) dueClosed += 1 }
    f.byStatus[i.status] = (f.byStatus[i.status] ?? 0) + 1
    f.byCategory[i.category] = (f.byCategory[i.category] ?? 0) + 1
    if (i.region_id) {
      const r = (f.byRegion[i.region_id] ??= { total: 0, overdue: 0, share: 0 })
      r.total += 1
      if (i.overdue) r.overdue += 1
    }
  }
  for (const r of Object.values(f.byRegion)) r.share = r.total ? Math.round((r.overdue / r.total) * 1000) / 10 : 0
  f.onTimeRate = f.due ? Math.round((dueClosed / f.due) * 1000) / 10 : null
  return f
}
