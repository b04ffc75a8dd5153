import { describe, expect, it } from 'vitest'
import { claimsOf, sessionFromToken } from '@/session/store'
import { filtersFromQuery, queryFromFilters } from '@/issues/filters'

/** An unsigned JWT with these claims (the app never verifies: the services do). */
function jwt(claims: Record<string, unknown>): string {
  const part = (o: unknown) => btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(o)))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
  return `${part({ alg: 'HS256' })}.${part(claims)}.sig`
}

describe('session from a token', () => {
  it('reads sub, org, roles and expiry, Chinese names included', () => {
    const s = sessionFromToken(jwt({ sub: '张三', org: 'city-eeb', roles: ['responsible'], exp: 2_000_000_000 }), 'dev')
    expect(s).toMatchObject({ sub: '张三', org: 'city-eeb', roles: ['responsible'], expiresAt: 2_000_000_000_000, mode: 'dev' })
  })

  it('takes roles given as a space- or comma-separated claim (some identity providers do)', () => {
    expect(sessionFromToken(jwt({ sub: 'a', roles: 'leader auditor' }), 'oidc').roles).toEqual(['leader', 'auditor'])
  })

  it('falls back to the ID token profile when the access token is opaque', () => {
    expect(claimsOf('not-a-jwt')).toEqual({})
    const s = sessionFromToken('opaque', 'oidc', { sub: '李四', org: 'saihan', roles: ['supervisor'], expiresAt: 5 })
    expect(s).toMatchObject({ sub: '李四', org: 'saihan', roles: ['supervisor'], expiresAt: 5 })
  })
})

describe('list filters in the address', () => {
  it('takes the known filters from the query and leaves the rest', () => {
    expect(filtersFromQuery({ status: 'in_progress', region_id: 'saihan', overdue: 'true', page: '3', q: '' }))
      .toEqual({ status: 'in_progress', region_id: 'saihan', overdue: true })
    expect(filtersFromQuery({ escalated: 'true', overdue: 'nonsense' })).toEqual({ escalated: true })
  })

  it('writes only what is set, so a cleared filter leaves the address', () => {
    expect(queryFromFilters({ status: '', category: 'air', overdue: false, q: '水源' })).toEqual({ category: 'air', q: '水源' })
  })
})
