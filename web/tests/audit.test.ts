import { describe, expect, it } from 'vitest'
import { checkpointMessage, signatureValid } from '@/audit/verify'
import { explainFlags } from '@/verification/flags'

const b64 = (bytes: ArrayBuffer) => btoa(String.fromCharCode(...new Uint8Array(bytes)))

describe('checkpoint signature', () => {
  it('signs the same text as runtime/checkpoints.py', () => {
    const text = new TextDecoder().decode(checkpointMessage({ service: 'issues', size: 7, root: 'ab', time: '2020-06-01T00:00:00Z' }))
    expect(text).toBe('closeloop-checkpoint/v1\nissues\n7\nab\n2020-06-01T00:00:00Z\n')
  })

  it('accepts a good signature and refuses one over altered content', async () => {
    const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair
    const cp = { service: 'notify', size: 12, root: 'f'.repeat(64), time: '2020-06-01T00:00:00.000000Z' }
    const signature = b64(await crypto.subtle.sign({ name: 'Ed25519' }, pair.privateKey, checkpointMessage(cp) as BufferSource))
    const key = b64(await crypto.subtle.exportKey('raw', pair.publicKey))
    expect(await signatureValid({ ...cp, signature }, key)).toBe(true)
    expect(await signatureValid({ ...cp, size: 13, signature }, key)).toBe(false)
  })
})

describe('integrity flags in words', () => {
  it('explains each flag once, with the measured distance', () => {
    const said = explainFlags(['reused', 'far_from_site'], [{ flag: 'far_from_site', distance_m: 1520, source: 'client' }])
    expect(said).toEqual([
      { code: 'reused', text: '照片重复使用:同一张或几乎相同的照片已作为其他任务的佐证。' },
      { code: 'far_from_site', text: '拍摄地点离整改点位过远:照片可能不是在现场拍摄的。(距整改点位约 1520 米)' },
    ])
    expect(explainFlags(['before_issue'])[0].text).toContain('早于问题交办')
  })
})
