import { describe, expect, it } from 'vitest'
import { countdown, daysLeft, shanghaiToday } from '@/composables/countdown'

describe('deadline countdown (end of the day in Asia/Shanghai)', () => {
  it('takes the Shanghai date, which is a day ahead of UTC after 16:00 UTC', () => {
    expect(shanghaiToday(new Date('2020-06-30T15:59:59Z'))).toBe('2020-06-30')
    expect(shanghaiToday(new Date('2020-06-30T16:00:00Z'))).toBe('2020-07-01')
  })

  it('counts whole days: due today is 0, yesterday is late by one', () => {
    const now = new Date('2020-06-30T02:00:00Z')
    expect(daysLeft('2020-06-30', now)).toBe(0)
    expect(daysLeft('2020-07-10', now)).toBe(10)
    expect(daysLeft('2020-06-29', now)).toBe(-1)
  })

  it('says how many days are left, warns in the last week, and flags what is late', () => {
    const now = new Date('2020-06-01T04:00:00Z')
    expect(countdown('2020-06-30', false, now)).toMatchObject({ text: '剩余 29 天', tone: 'info' })
    expect(countdown('2020-06-05', false, now)).toMatchObject({ text: '剩余 4 天', tone: 'warning' })
    expect(countdown('2020-06-01', false, now)).toMatchObject({ text: '今天到期', tone: 'danger' })
    expect(countdown('2020-05-20', false, now)).toMatchObject({ text: '已逾期 12 天', tone: 'danger' })
  })

  it('shows a closed task as done even past its deadline', () => {
    expect(countdown('2020-05-20', true, new Date('2020-06-01T04:00:00Z'))).toMatchObject({ text: '已完成', tone: 'success' })
  })

  it('is not moved by the time of day in Shanghai', () => {
    expect(daysLeft('2020-07-01', new Date('2020-06-30T16:30:00Z'))).toBe(0)
    expect(daysLeft('2020-07-01', new Date('2020-06-30T15:30:00Z'))).toBe(1)
  })
})
