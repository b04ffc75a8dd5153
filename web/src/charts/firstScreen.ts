// A page's first screen: the charts in view when it first renders are drawn at once and the page waits for their
// first frame before it calls itself drawn; the others wait until they scroll into view or the browser is idle.
import { inject, provide, ref, type InjectionKey, type Ref } from 'vue'

export { whenIdle } from '@/composables/idle'

/** What a page shares with its LazyCharts. */
export interface FirstScreen {
  /** a chart in view at the first render: the page counts itself drawn once this promise settles */
  waitFor(drawn: Promise<void>): void
  /** true once the first screen is drawn: charts out of view then draw while the browser is idle */
  settled: Ref<boolean>
}

const KEY: InjectionKey<FirstScreen> = Symbol('first-screen')

/** The page's side: provides the first screen to its charts; `drawn()` waits for every chart in view so far. */
export function provideFirstScreen(): { settled: Ref<boolean>; drawn(): Promise<number>; settle(): void } {
  const waiting: Promise<void>[] = []
  const settled = ref(false)
  provide(KEY, { waitFor: (p) => { waiting.push(p) }, settled })
  return {
    settled,
    drawn: async () => { await Promise.all(waiting); return waiting.length },
    settle: () => { settled.value = true },
  }
}

/** The chart's side: the page's first screen, or null on a page that does not provide one (draw at once). */
export function useFirstScreen(): FirstScreen | null {
  return inject(KEY, null)
}

/** Whether an element's box is at least partly inside the window now. */
export function inView(el: Element): boolean {
  const r = el.getBoundingClientRect()
  return r.bottom > 0 && r.top < window.innerHeight && r.right > 0 && r.left < window.innerWidth
}
