// 问责线索 in words: a rule's threshold and the kind of each triggering event, as the discipline office reads them.

const EVENT_ZH: Record<string, string> = {
  'issue.registered': '任务登记(整改时限)',
  'issue.updated': '任务变更',
  'issue.status_changed': '任务状态变更',
  'issue.extension_decided': '延期申请审批',
  'issue.reopened': '已销号任务重启',
  'issue.milestone_reviewed': '重要节点报告审核',
  'closure.rejected': '销号申请被退回',
  'sample.reinspected': '抽查复核',
  'ranking.published': '考核排名发布',
}

/** The threshold of a clue's rule in Chinese, e.g. {overdue_days: 30} → 逾期超过 30 天. */
export function thresholdText(threshold: Record<string, number>): string {
  const t = threshold
  if (t.bottom_times !== undefined && t.bottom_of_last !== undefined) {
    return `最近 ${t.bottom_of_last} 期中至少 ${t.bottom_times} 期`
  }
  return Object.entries(t).map(([key, value]) => {
    if (key === 'overdue_days') return `逾期超过 ${value} 天`
    if (key === 'superficial_rejections' || key === 'rebounds' || key === 'missed_milestones') return `至少 ${value} 次`
    return `${key} ${value}`
  }).join(',')
}

/** A triggering event's kind in Chinese (its code when the app does not know it, so nothing is hidden). */
export function eventLabel(type: string): string {
  return EVENT_ZH[type] ?? type
}
