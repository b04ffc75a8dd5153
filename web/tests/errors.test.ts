import { describe, expect, it } from 'vitest'
import { ApiError, errorFromBody, explain, fieldName, translateServerMessage } from '@/api/errors'

describe('error → message', () => {
  it('explains an illegal transition by its code, not only its status', () => {
    const e = errorFromBody(409, { error: { code: 'illegal_transition', message: 'cannot start an issue that is filed', details: [{ field: 'status', message: 'allowed from filed: reopen' }] } })
    const said = explain(e)
    expect(said.title).toBe('当前状态不允许此操作')
    expect(said.hint).toContain('刷新页面')
    expect(said.lines).toEqual(['状态:只有在以下状态才可办理:filed: reopen'])
  })

  it('names each invalid field in Chinese with the reason translated', () => {
    const e = errorFromBody(422, { error: { code: 'invalid', message: 'a rejection needs an opinion and a reason_code', details: [
      { field: 'opinion', message: 'required when rejecting' }, { field: 'reason_code', message: 'required when rejecting' }] } })
    expect(explain(e).lines).toEqual(['核查意见:必填', '退回原因:必填'])
    expect(explain(e).title).toBe('填写的内容有误')
  })

  it('keeps a server message it cannot translate, rather than hiding it', () => {
    expect(translateServerMessage('something new happened')).toBe('something new happened')
    expect(translateServerMessage('unknown org nowhere')).toBe('未知单位 nowhere')
    expect(translateServerMessage('not a date (YYYY-MM-DD): 2020-13-01')).toBe('不是日期(应为 YYYY-MM-DD):2020-13-01')
  })

  it('says what to do when the server cannot be reached, or answers with a bare 5xx', () => {
    expect(explain(new ApiError(0, 'network', 'x')).title).toBe('无法连接服务器')
    expect(explain(new TypeError('Failed to fetch')).title).toBe('无法连接服务器')
    const bare = errorFromBody(502, '<html>Bad Gateway</html>')
    expect(bare.code).toBe('server_error')
    expect(explain(bare).title).toBe('服务器出错')
  })

  it('maps every status of the design to its own words', () => {
    const titles = [400, 401, 403, 404, 409, 413, 415, 422].map((s) => explain(new ApiError(s, 'x', '')).title)
    expect(new Set(titles).size).toBe(titles.length)
  })

  it('leaves per-row import cells to the import table, not to the alert', () => {
    const e = errorFromBody(422, { error: { code: 'invalid', message: 'bad ledger', details: [{ row: 3, column: 'deadline', message: 'required' }] } })
    expect(explain(e).lines).toEqual([])
    expect(e.details[0]).toEqual({ row: 3, column: 'deadline', message: 'required' })
  })

  it('names nested fields by their known parts', () => {
    expect(fieldName('target.value')).toBe('目标值')
    expect(fieldName('location.latitude')).toBe('整改点位 · 纬度')
    expect(fieldName('items.0.opinion')).toBe('items · 0 · 核查意见')
    expect(fieldName('deadline')).toBe('整改时限')
  })
})
