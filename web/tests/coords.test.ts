import { describe, expect, it } from 'vitest'
import { fromMap, round6, toMap } from '@/geo/coords'

/** Metres between two nearby points (equirectangular: fine at these distances). */
function metres([lon1, lat1]: number[], [lon2, lat2]: number[]): number {
  const k = Math.PI / 180
  const x = (lon2 - lon1) * k * Math.cos(((lat1 + lat2) / 2) * k)
  return Math.hypot(x, (lat2 - lat1) * k) * 6_371_000
}

/** The published WGS-84 → GCJ-02 formula (Krasovsky 1940 ellipsoid), written out here to check the library by. */
function published(lon: number, lat: number): [number, number] {
  const a = 6378245.0
  const ee = 0.00669342162296594323
  const x = lon - 105.0
  const y = lat - 35.0
  let dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x))
  dLat += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0
  dLat += ((20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin((y / 3.0) * Math.PI)) * 2.0) / 3.0
  dLat += ((160.0 * Math.sin((y / 12.0) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30.0)) * 2.0) / 3.0
  let dLon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x))
  dLon += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0
  dLon += ((20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin((x / 3.0) * Math.PI)) * 2.0) / 3.0
  dLon += ((150.0 * Math.sin((x / 12.0) * Math.PI) + 300.0 * Math.sin((x / 30.0) * Math.PI)) * 2.0) / 3.0
  const radLat = (lat / 180.0) * Math.PI
  const magic = 1 - ee * Math.sin(radLat) ** 2
  const sqrtMagic = Math.sqrt(magic)
  dLat = (dLat * 180.0) / (((a * (1 - ee)) / (magic * sqrtMagic)) * Math.PI)
  dLon = (dLon * 180.0) / ((a / sqrtMagic) * Math.cos(radLat) * Math.PI)
  return [lon + dLon, lat + dLat]
}

describe('WGS-84 ↔ GCJ-02 (gcoord)', () => {
  it('moves a Hohhot point by the few hundred metres of the GCJ-02 offset, north-east', () => {
    const wgs = [111.7519, 40.8415]
    const gcj = toMap(wgs[0], wgs[1])
    const d = metres(wgs, gcj)
    expect(d).toBeGreaterThan(100)
    expect(d).toBeLessThan(800)
    expect(gcj[0]).toBeGreaterThan(wgs[0])
    expect(gcj[1]).toBeGreaterThan(wgs[1])
  })

  it('agrees with the published formula within a metre across the city', () => {
    for (const [lon, lat] of [[111.6655, 40.8583], [111.1639, 40.7296], [111.6476, 39.9211], [111.4513, 41.0965]]) {
      expect(metres(toMap(lon, lat), published(lon, lat))).toBeLessThan(1)
    }
  })

  it('returns a hand-set pin to WGS-84 within a metre of where it came from', () => {
    const wgs = [111.6655, 40.8583]
    const back = fromMap(...toMap(wgs[0], wgs[1]))
    expect(metres(wgs, back)).toBeLessThan(1)
  })

  it('leaves points outside China as they are (the offset applies only inside)', () => {
    expect(toMap(2.3522, 48.8566)).toEqual([2.3522, 48.8566])
  })

  it('rounds to six decimals, about a tenth of a metre', () => {
    expect(round6(111.12345678)).toBe(111.123457)
  })
})
