import { describe, expect, it } from 'vitest'
import { useExpectedStatus } from '@/composables/expectedStatus'

describe('a status that another service moves', () => {
  it('shows the status the action leads to until the list shows a change, then the list again', async () => {
    let server = 'in_progress'
    let reloads = 0
    const s = useExpectedStatus(async () => { reloads += 1; if (reloads === 3) server = 'closure_requested' }, () => server, { interval: 1, tries: 10 })
    expect(s.shown('a', server)).toBe('in_progress')
    const following = s.follow('a', 'in_progress', 'closure_requested')
    expect(s.shown('a', server)).toBe('closure_requested')
    expect(s.pending('a')).toBe(true)
    await following
    expect(reloads).toBe(3)
    expect(s.pending('a')).toBe(false)
    expect(s.shown('a', server)).toBe('closure_requested')
  })

  it('gives up after its tries and shows what the service says', async () => {
    let reloads = 0
    const s = useExpectedStatus(async () => { reloads += 1 }, () => 'in_progress', { interval: 1, tries: 4 })
    await s.follow('a', 'in_progress', 'closure_requested')
    expect(reloads).toBe(4)
    expect(s.shown('a', 'in_progress')).toBe('in_progress')
  })

  it('stops following when the status moves on past the one it expected', async () => {
    const s = useExpectedStatus(async () => {}, () => 'signed_off', { interval: 1, tries: 10 })
    await s.follow('a', 'in_progress', 'closure_requested')
    expect(s.shown('a', 'signed_off')).toBe('signed_off')
  })
})
