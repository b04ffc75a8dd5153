import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { appealBody, canAppeal, decisionBody } from '@/scoring/appeals/rules'
import AppealForm from '@/scoring/appeals/AppealForm.vue'
import type { Ranking } from '@/scoring/api'

const row = { org_id: 'saihan', components: { quality: { score: 80 } } }

describe('appeal rules', () => {
  it('lets a ranked unit appeal a ranking in force only', () => {
    expect(canAppeal({ rows: [row], superseded_by: null } as never, 'saihan')).toBe(true)
    expect(canAppeal({ rows: [row], superseded_by: 'r2' } as never, 'saihan')).toBe(false)
    expect(canAppeal({ rows: [row], superseded_by: null } as never, 'xincheng')).toBe(false)
    expect(canAppeal({ rows: [row], superseded_by: null } as never, null)).toBe(false)
  })

  it('builds the appeal body and names the first wrong field', () => {
    expect(appealBody({ component: 'quality', reason: ' 退回已撤销 ', evidence: 'ev-1, ev-2,ev-3' }))
      .toEqual({ component: 'quality', reason: '退回已撤销', evidence_ids: ['ev-1', 'ev-2', 'ev-3'] })
    expect(appealBody({ component: 'quality', reason: '理由', evidence: '' })).toEqual({ component: 'quality', reason: '理由', evidence_ids: [] })
    expect(appealBody({ component: 'speed', reason: '理由', evidence: '' })).toEqual({ field: 'component' })
    expect(appealBody({ component: 'quality', reason: '  ', evidence: '' })).toEqual({ field: 'reason' })
    expect(appealBody({ component: 'quality', reason: '理'.repeat(2001), evidence: '' })).toEqual({ field: 'reason' })
    expect(appealBody({ component: 'quality', reason: '理由', evidence: 'a/b' })).toEqual({ field: 'evidence_ids' })
    const many = Array.from({ length: 21 }, (_, i) => `e${i}`).join(',')
    expect(appealBody({ component: 'quality', reason: '理由', evidence: many })).toEqual({ field: 'evidence_ids' })
  })

  it('asks a correction of an upheld appeal, the disputed component at least, and none of a refusal', () => {
    expect(decisionBody({ outcome: 'upheld', reasons: '属实', values: { quality: 90, completion: null } }, 'quality'))
      .toEqual({ outcome: 'upheld', reasons: '属实', correction: { quality: 90 } })
    expect(decisionBody({ outcome: 'partly_upheld', reasons: '部分属实', values: { completion: 50 } }, 'quality'))
      .toEqual({ field: 'correction.quality' })
    expect(decisionBody({ outcome: 'upheld', reasons: '属实', values: { quality: 101 } }, 'quality'))
      .toEqual({ field: 'correction.quality' })
    expect(decisionBody({ outcome: 'refused', reasons: '不成立', values: { quality: 90 } }, 'quality'))
      .toEqual({ outcome: 'refused', reasons: '不成立', correction: null })
    expect(decisionBody({ outcome: 'refused', reasons: '', values: {} }, 'quality')).toEqual({ field: 'reasons' })
  })
})

describe('AppealForm', () => {
  it('offers the appeal on the ranking', () => {
    const ranking = { id: 'r1', period: '2020-09', kind: 'region', rows: [row], superseded_by: null } as unknown as Ranking
    const w = mount(AppealForm, { props: { ranking } })
    expect(w.text()).toContain('申诉')
  })
})
