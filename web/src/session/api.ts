// The gateway's sign-in endpoints: its mode, and in development the orgs and a token.
import { getJson, sendJson } from '@/api/http'

/** How people sign in here. */
export interface AuthConfig {
  mode: 'dev' | 'oidc'
  issuer?: string
  client_id?: string
  demo: boolean
}

export interface DevOrg { id: string; name: string; kind: string }

let configOnce: Promise<AuthConfig> | null = null

/** The gateway's sign-in mode, asked once per page load (asked again after a failure). */
export function authConfig(): Promise<AuthConfig> {
  configOnce ??= getJson<AuthConfig>('/auth/config').catch((e: unknown) => { configOnce = null; throw e })
  return configOnce
}

/** The orgs one may sign in as (development only). */
export const devOrgs = (): Promise<DevOrg[]> => getJson<DevOrg[]>('/auth/dev/orgs')

/** A development token for an org and roles. */
export const devToken = (body: { org: string; roles: string[]; sub: string }): Promise<{ token: string; expires_at: string }> =>
  sendJson('POST', '/auth/dev/token', body)
