import { describe, expect, it } from 'vitest'
import { figuresOf } from '@/cockpit/aggregate'
import { actionLabel, allows, isClosed, statusLabel, statuses } from '@/api/lifecycle'

const issue = (id: string, status: string, deadline: string, overdue: boolean, region_id: string | null = 'saihan', category = 'air') =>
  ({ id, status, deadline, overdue, region_id, category })

describe('cockpit figures', () => {
  it('counts by status, category and district, and the overdue share of each district', () => {
    const f = figuresOf([
      issue('a', 'registered', '2020-06-30', true),
      issue('b', 'signed_off', '2020-06-30', false),
      issue('c', 'in_progress', '2021-01-31', false, 'saihan', 'water'),
      issue('d', 'filed', '2020-05-31', false, 'togtoh'),
      issue('e', 'in_progress', '2020-05-31', true, null, 'water'),
    ], '2020-07-15')
    expect(f).toMatchObject({ total: 5, closed: 2, overdue: 2, due: 4 })
    expect(f.byStatus).toEqual({ registered: 1, signed_off: 1, in_progress: 2, filed: 1 })
    expect(f.byCategory).toEqual({ air: 3, water: 2 })
    expect(f.byRegion).toEqual({ saihan: { total: 3, overdue: 1, share: 33.3 }, togtoh: { total: 1, overdue: 0, share: 0 } })
    expect(f.onTimeRate).toBe(50)
  })

  it('has no on-time rate while no deadline has passed', () => {
    expect(figuresOf([issue('a', 'registered', '2030-01-01', false)], '2020-07-15').onTimeRate).toBeNull()
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
