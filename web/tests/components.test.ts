import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import ErrorAlert from '@/ui/ErrorAlert.vue'
import ListFooter from '@/ui/ListFooter.vue'
import CountdownTag from '@/ui/CountdownTag.vue'
import { ApiError } from '@/api/errors'

describe('components', () => {
  it('ErrorAlert shows the Chinese title, what to do, each detail, and a working retry', async () => {
    let retried = 0
    const w = mount(ErrorAlert, { props: { error: new ApiError(413, 'payload_too_large', 'too big'), retry: () => { retried += 1 } } })
    expect(w.text()).toContain('文件过大')
    expect(w.text()).toContain('请压缩或拆分文件后重新上传')
    expect(w.find('[role="alert"]').exists()).toBe(true)
    await w.find('button').trigger('click')
    expect(retried).toBe(1)
  })

  it('ErrorAlert shows nothing when there is no error', () => {
    expect(mount(ErrorAlert, { props: { error: null } }).find('[role="alert"]').exists()).toBe(false)
  })

  it('ListFooter offers the next page while there is one, and says when all is shown', async () => {
    const w = mount(ListFooter, { props: { count: 20, loading: false, hasMore: true } })
    await w.find('button').trigger('click')
    expect(w.emitted('more')).toHaveLength(1)
    await w.setProps({ hasMore: false })
    expect(w.find('button').exists()).toBe(false)
    expect(w.text()).toContain('已全部显示')
  })

  it('CountdownTag says done for a closed task', () => {
    expect(mount(CountdownTag, { props: { deadline: '2020-01-01', status: 'filed' } }).text()).toBe('已完成')
  })
})
