// Routes, lazily loaded, and the menu each role sees.
import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { hasRole, onSessionExpired, signedIn } from '@/session/store'
import { zh } from '@/messages/zh-CN'
import { loadDistricts } from '@/geo/districts'
import { prefetchCockpit } from '@/cockpit/data'

/** A menu entry: where it goes and which roles see it. */
export interface MenuEntry { path: string; label: string; roles: string[] }

export const MENU: MenuEntry[] = [
  { path: '/cockpit', label: zh.menu.cockpit, roles: ['leader', 'admin'] },
  { path: '/issues', label: zh.menu.ledger, roles: ['admin', 'leader', 'auditor'] },
  { path: '/tasks', label: zh.menu.tasks, roles: ['responsible'] },
  { path: '/review', label: zh.menu.review, roles: ['supervisor'] },
  { path: '/filing', label: zh.menu.filing, roles: ['admin'] },
  { path: '/rankings', label: zh.menu.rankings, roles: ['admin', 'leader', 'auditor', 'responsible'] },
  { path: '/audit', label: zh.menu.audit, roles: ['auditor'] },
  { path: '/samples', label: zh.menu.samples, roles: ['admin'] },
  { path: '/clues', label: zh.menu.clues, roles: ['admin', 'leader'] },
  { path: '/inbox', label: zh.menu.inbox, roles: ['admin', 'responsible', 'supervisor', 'leader', 'auditor'] },
]

/** The first page a person with these roles lands on. */
export function homeFor(): string {
  return MENU.find((m) => hasRole(...m.roles))?.path ?? '/inbox'
}

/** A page that draws on the district map: ECharts and the boundaries are fetched beside the page's own chunk, not
 * after it has loaded and run (the page imports the same modules and reports any failure itself). */
function withMap(page: () => Promise<unknown>): () => Promise<unknown> {
  return () => {
    void loadDistricts().catch(() => undefined)
    void import('@/charts/echarts').then((m) => m.ensureMap()).catch(() => undefined)
    return page()
  }
}

const signedInRoutes: RouteRecordRaw[] = [
  { path: '', redirect: () => homeFor() },
  { path: 'cockpit', component: withMap(() => {
    // the cockpit's data is asked for now, beside the page's chunk, not once the page has loaded and run
    prefetchCockpit()
    return import('@/cockpit/CockpitPage.vue')
  }), meta: { roles: ['leader', 'admin'] } },
  { path: 'issues', component: () => import('@/issues/LedgerPage.vue') },
  { path: 'issues/:id', component: () => import('@/issues/IssuePage.vue'), props: true },
  { path: 'tasks', component: () => import('@/issues/MyTasksPage.vue'), meta: { roles: ['responsible'] } },
  { path: 'review', component: () => import('@/verification/ReviewPage.vue'), meta: { roles: ['supervisor'] } },
  { path: 'filing', component: () => import('@/verification/FilingPage.vue'), meta: { roles: ['admin'] } },
  { path: 'rankings', component: () => import('@/scoring/RankingsPage.vue') },
  { path: 'audit', component: () => import('@/audit/AuditPage.vue'), meta: { roles: ['auditor'] } },
  { path: 'inbox', component: () => import('@/notify/InboxPage.vue') },
  { path: 'samples', component: () => import('@/verification/SamplesPage.vue'), meta: { roles: ['admin'] } },
  { path: 'clues', component: () => import('@/scoring/CluesPage.vue'), meta: { roles: ['admin', 'leader'] } },
]

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/signin', component: () => import('@/session/SignInPage.vue'), meta: { public: true } },
    { path: '/auth/callback', component: () => import('@/session/CallbackPage.vue'), meta: { public: true } },
    { path: '/public', component: withMap(() => import('@/public/PublicPage.vue')), meta: { public: true } },
    { path: '/', component: () => import('@/layout/AppLayout.vue'), children: signedInRoutes },
    { path: '/:rest(.*)*', redirect: '/' },
  ],
})

router.beforeEach((to) => {
  if (to.meta.public) return true
  if (!signedIn()) return { path: '/signin', query: { back: to.fullPath } }
  const roles = to.meta.roles as string[] | undefined
  if (roles && !hasRole(...roles)) return homeFor()
  return true
})

onSessionExpired(() => { void router.push({ path: '/signin', query: { back: router.currentRoute.value.fullPath, expired: '1' } }) })
