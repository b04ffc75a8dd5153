// OpenID Connect sign-in: authorization code with PKCE (oidc-client-ts), back to /auth/callback.
import type { UserManager } from 'oidc-client-ts'
import type { AuthConfig } from './api'
import { sessionFromToken, type Session } from './store'

async function manager(cfg: AuthConfig): Promise<UserManager> {
  const { UserManager, WebStorageStateStore } = await import('oidc-client-ts')
  return new UserManager({
    authority: cfg.issuer ?? '',
    client_id: cfg.client_id ?? '',
    redirect_uri: `${location.origin}/auth/callback`,
    post_logout_redirect_uri: `${location.origin}/`,
    response_type: 'code',
    scope: 'openid profile email',
    userStore: new WebStorageStateStore({ store: sessionStorage }),
  })
}

/** Sends the browser to the identity provider; `back` is where to return after sign-in. */
export async function startOidc(cfg: AuthConfig, back: string): Promise<void> {
  await (await manager(cfg)).signinRedirect({ state: back })
}

/** Completes the sign-in on /auth/callback: the session and where to go next. */
export async function finishOidc(cfg: AuthConfig): Promise<{ session: Session; back: string }> {
  const user = await (await manager(cfg)).signinRedirectCallback()
  const profile = user.profile as Record<string, unknown>
  const session = sessionFromToken(user.access_token, 'oidc', {
    sub: String(profile.name ?? profile.preferred_username ?? profile.sub ?? ''),
    org: typeof profile.org === 'string' ? profile.org : null,
    roles: Array.isArray(profile.roles) ? (profile.roles as string[]) : [],
    expiresAt: (user.expires_at ?? 0) * 1000 || undefined,
  })
  return { session, back: typeof user.state === 'string' ? user.state : '/' }
}
