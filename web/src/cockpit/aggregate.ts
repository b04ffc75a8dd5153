// The cockpit's figures from the service's summary (GET /v1/issues/summary): the counts as the service gives them,
// and each district's overdue share for the map.

/** The parts of the summary the cockpit draws. */
export interface SummaryCounts {
  total: number
  closed: number
  overdue: number
  escalated: number
  due: number
  on_time_rate: number | null
  by_status: Record<string, number>
  by_category: Record<string, number>
  by_region: { region_id: string; total: number; overdue: number }[]
}

/** Every figure of the cockpit. */
export interface Figures {
  total: number
  closed: number
  overdue: number
  escalated: number
  due: number
  onTimeRate: number | null
  byStatus: Record<string, number>
  byCategory: Record<string, number>
  /** by district, in the service's order (most tasks first); share is the overdue share in per cent, one decimal */
  byRegion: Record<string, { total: number; overdue: number; share: number }>
}

/** The cockpit's figures from the summary; a district's share is 0 when it has no task. */
export function figuresFrom(s: SummaryCounts): Figures {
  const byRegion: Figures['byRegion'] = {}
  for (const r of s.by_region) {
    byRegion[r.region_id] = { total: r.total, overdue: r.overdue, share: r.total ? Math.round((r.overdue / r.total) * 1000) / 10 : 0 }
  }
  return {
    total: s.total, closed: s.closed, overdue: s.overdue, escalated: s.escalated, due: s.due, onTimeRate: s.on_time_rate,
    byStatus: { ...s.by_status }, byCategory: { ...s.by_category }, byRegion,
  }
}
