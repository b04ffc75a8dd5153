import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { core, featuresOf, matchDistricts, normalise } from '@/geo/districts'

const geo = JSON.parse(readFileSync(resolve(process.cwd(), 'src/assets/hohhot-districts.geojson'), 'utf8'))
const orgs = readFileSync(resolve(process.cwd(), '../data/orgs.csv'), 'utf8').trim().split('\n').slice(1)
  .map((line) => { const [id, name, kind] = line.split(','); return { id, name, kind } })

describe('GeoJSON districts ↔ orgs of data/orgs.csv', () => {
  it('matches all nine districts of the shipped map to a region org of the ledger', () => {
    const m = matchDistricts(featuresOf(geo), orgs)
    expect(m.unmatchedFeatures).toEqual([])
    expect(m.orgOf).toEqual({
      新城区: 'xincheng', 回民区: 'huimin', 玉泉区: 'yuquan', 赛罕区: 'saihan', 土默特左旗: 'tumed-left',
      托克托县: 'togtoh', 和林格尔县: 'horinger', 清水河县: 'qingshuihe', 武川县: 'wuchuan',
    })
  })

  it('names the region that has no polygon (the development zone) instead of dropping it silently', () => {
    expect(matchDistricts(featuresOf(geo), orgs).notOnMap.map((o) => o.id)).toEqual(['etdz'])
  })

  it('matches names written with the city prefix or without the suffix, never a department', () => {
    const m = matchDistricts([{ name: '呼和浩特市新城区' }, { name: '武川' }, { name: '生态环境局' }], orgs)
    expect(m.orgOf).toEqual({ 呼和浩特市新城区: 'xincheng', 武川: 'wuchuan' })
    expect(m.unmatchedFeatures).toEqual(['生态环境局'])
  })

  it('gives each org to at most one feature', () => {
    const m = matchDistricts([{ name: '新城区' }, { name: '新城' }], orgs)
    expect(Object.values(m.orgOf)).toEqual(['xincheng'])
    expect(m.unmatchedFeatures).toEqual(['新城'])
  })

  it('normalises city prefix and spaces, and strips the administrative suffix for the core', () => {
    expect(normalise(' 呼和浩特市 玉泉区')).toBe('玉泉区')
    expect(core('土默特左旗')).toBe('土默特左')
    expect(core('区')).toBe('区')
  })
})
