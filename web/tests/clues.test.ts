import { describe, expect, it } from 'vitest'
import { eventLabel, thresholdText } from '@/scoring/clues'

describe('accountability clues in words', () => {
  it('says each rule threshold in Chinese, never as a settings key', () => {
    expect(thresholdText({ overdue_days: 30 })).toBe('逾期超过 30 天')
    expect(thresholdText({ superficial_rejections: 1 })).toBe('至少 1 次')
    expect(thresholdText({ rebounds: 2 })).toBe('至少 2 次')
    expect(thresholdText({ missed_milestones: 2 })).toBe('至少 2 次')
    expect(thresholdText({ bottom_times: 2, bottom_of_last: 3 })).toBe('最近 3 期中至少 2 期')
  })

  it('names the kinds of triggering events, and shows an unknown kind as it is', () => {
    expect(eventLabel('closure.rejected')).toBe('销号申请被退回')
    expect(eventLabel('issue.registered')).toBe('任务登记(整改时限)')
    expect(eventLabel('ranking.published')).toBe('考核排名发布')
    expect(eventLabel('issue.something_new')).toBe('issue.something_new')
  })
})
