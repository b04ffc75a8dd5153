import { describe, expect, it } from 'vitest'
import { figuresFrom } from '@/cockpit/aggregate'
import { actionLabel, allows, isClosed, statusLabel, statuses } from '@/api/lifecycle'

const summary = {
  total: 5, closed: 2, overdue: 2, escalated: 1, due: 4, on_time_rate: 50,
  by_status: { registered: 1, signed_off: 1, in_progress: 2, filed: 1 }, by_category: { air: 3, water: 2 },
  by_region: [{ region_id: 'saihan', total: 3, overdue: 1 }, { region_id: 'togtoh', total: 1, overdue: 0 }, { region_id: 'wuchuan', total: 0, overdue: 0 }],
}

describe('cockpit figures', () => {
  it('takes the counts from the summary and gives each district its overdue share', () => {
    const f = figuresFrom(summary)
    expect(f).toMatchObject({ total: 5, closed: 2, overdue: 2, escalated: 1, due: 4, onTimeRate: 50 })
    expect(f.byStatus).toEqual(summary.by_status)
    expect(f.byCategory).toEqual({ air: 3, water: 2 })
    expect(f.byRegion).toEqual({ saihan: { total: 3, overdue: 1, share: 33.3 }, togtoh: { total: 1, overdue: 0, share: 0 },
      wuchuan: { total: 0, overdue: 0, share: 0 } })
    expect(Object.keys(f.byRegion)).toEqual(['saihan', 'togtoh', 'wuchuan'])
  })

  it('has no on-time rate while no deadline has passed', () => {
    expect(figuresFrom({ ...summary, due: 0, on_time_rate: null }).onTimeRate).toBeNull()
  })
})

describe('lifecycle data generated from the services', () => {
  it('has every status with a Chinese label, and the closed set', () => {
    expect(statuses.map((s) => s.id)).toEqual(['registered', 'in_progress', 'closure_requested', 'signed_off', 'filed'])
    for (const s of statuses) expect(statusLabel(s.id)).toMatch(/[\u4e00-\u9fff]/)
    expect(isClosed('signed_off') && isClosed('filed') && !isClosed('in_progress')).toBe(true)
  })

  it('allows exactly the moves of the state machine', () => {
    expect(allows('registered', 'start')).toBe(true)
    expect(allows('in_progress', 'start')).toBe(false)
    expect(allows('in_progress', 'apply')).toBe(true)
    expect(allows('filed', 'reopen')).toBe(true)
    expect(allows('filed', 'apply')).toBe(false)
    expect(actionLabel('apply')).toBe('申请销号')
  })
})
