import { afterEach, describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import SubTaskTree from '@/issues/SubTaskTree.vue'
import MilestoneList from '@/issues/MilestoneList.vue'
import type { IssueDetail } from '@/issues/api'
import { signIn, signOut } from '@/session/store'

const stubs = { 'router-link': { template: '<a><slot /></a>' } }

function issue(extra: Partial<IssueDetail>): IssueDetail {
  return {
    id: 'p', code: 'HH-P', title: '散煤治理', responsible_org_id: 'xincheng', supervising_org_id: 'city-eeb',
    status: 'in_progress', children_total: 0, children_open: 0, derived_percent: null, children: [], milestones: [],
    ...extra,
  } as unknown as IssueDetail
}

function milestone(extra: Record<string, unknown>) {
  return {
    id: 'm1', issue_id: 'p', due_on: '2020-10-31', description: '完成 60%', target: null, state: 'pending',
    state_zh: '待报告', outcome: null, note: null, evidence_ids: [], reported_at: null, reported_by: null,
    disputed: false, reviewed_at: null, reviewed_by: null, opinion: null, overdue: false, missed: false,
    created_at: '2020-06-01T00:00:00Z', ...extra,
  }
}

afterEach(() => signOut())

describe('breakdown and milestones on the issue page', () => {
  it('SubTaskTree counts the sub-tasks and lists each with its percent, the late one marked', () => {
    const w = mount(SubTaskTree, {
      global: { stubs },
      props: { issue: issue({ children_total: 3, children_open: 1, derived_percent: 80, children: [
        { id: 'a', code: 'HH-P-HM', title: '回民区', responsible_org_id: 'huimin', deadline: '2020-09-30', status: 'signed_off', overdue: false, percent: 100, children_total: 0 },
        { id: 'b', code: 'HH-P-SH', title: '赛罕区', responsible_org_id: 'saihan', deadline: '2020-09-30', status: 'in_progress', overdue: true, percent: 40, children_total: 0 },
      ] }) },
    })
    expect(w.text()).toContain('子任务 3 项,未销号 1 项')
    expect(w.text()).toContain('HH-P-SH')
    expect(w.text()).toContain('整改中40%逾期')
  })

  it('SubTaskTree says when a task is not broken down', () => {
    expect(mount(SubTaskTree, { global: { stubs }, props: { issue: issue({}) } }).text()).toContain('本任务未分解子任务')
  })

  it('MilestoneList says missed before overdue, and offers the report only to the responsible unit', () => {
    const marks = [milestone({ overdue: true, missed: true }), milestone({ id: 'm2', due_on: '2020-11-30', state: 'confirmed', state_zh: '已确认', outcome: 'met' })]
    const anyone = mount(MilestoneList, { global: { stubs }, props: { issue: issue({ milestones: marks } as never) } })
    expect(anyone.text()).toContain('状态:未按期完成')
    expect(anyone.text()).toContain('已确认(按期完成)')
    expect(anyone.text()).not.toContain('报告')
    signIn({ sub: 'u', org: 'xincheng', roles: ['responsible'], expiresAt: Date.now() + 3_600_000, mode: 'dev', token: 't' } as never)
    const mine = mount(MilestoneList, { global: { stubs }, props: { issue: issue({ milestones: marks } as never) } })
    // one report form: for the missed milestone, not for the one confirmed met
    expect(mine.findAll('button').filter((b) => b.text() === '报告')).toHaveLength(1)
  })
})
