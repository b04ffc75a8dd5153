// ECharts with only the parts the app draws, and the Hohhot districts registered once as a map.
// Imported only by lazily loaded pages, so it is never part of the first visit's JavaScript.
import { use, registerMap } from 'echarts/core'
import { CanvasRenderer } from 'echarts/renderers'
import { BarChart, LineChart, MapChart, PieChart, ScatterChart } from 'echarts/charts'
import { GeoComponent, GridComponent, LegendComponent, MarkLineComponent, TitleComponent, TooltipComponent, VisualMapComponent, AriaComponent } from 'echarts/components'
import VChart from 'vue-echarts'
import 'vue-echarts/style.css'
import { loadDistricts } from '@/geo/districts'

use([CanvasRenderer, BarChart, LineChart, MapChart, PieChart, ScatterChart, GeoComponent, GridComponent, LegendComponent,
  MarkLineComponent, TitleComponent, TooltipComponent, VisualMapComponent, AriaComponent])

/** The name the district map is registered under (pages that load ECharts lazily repeat this literal). */
export const MAP = 'hohhot'
let registered: Promise<void> | null = null

/** Registers the district boundaries (GCJ-02) under MAP, once. */
export function ensureMap(): Promise<void> {
  registered ??= loadDistricts().then((geo) => { registerMap(MAP, geo as Parameters<typeof registerMap>[1]) })
  return registered
}

export { VChart }
