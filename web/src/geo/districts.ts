// Matching the map's district names (GeoJSON `properties.name`) to the orgs of data/orgs.csv.
import districtsUrl from '@/assets/hohhot-districts.geojson?url'

/** A district polygon's name and its label point, as the GeoJSON gives them. */
export interface DistrictFeature { name: string; cp?: [number, number] }

/** An org as the issues service lists it. */
export interface OrgLike { id: string; name: string; kind: string }

/** The result: which org each map district is, and which region orgs have no polygon. */
export interface DistrictMatch {
  orgOf: Record<string, string>
  featureOf: Record<string, string>
  notOnMap: OrgLike[]
  unmatchedFeatures: string[]
}

const CITY = /^(内蒙古自治区)?(呼和浩特市)?/
const SUFFIX = /(自治旗|自治县|新区|区|县|旗|市)$/

/** A name without the city prefix and spaces, for comparing. */
export function normalise(name: string): string {
  return name.replace(/\s+/g, '').replace(CITY, '')
}

/** The name's core without its administrative suffix (新城区 → 新城, 土默特左旗 → 土默特左). */
export function core(name: string): string {
  const n = normalise(name)
  const c = n.replace(SUFFIX, '')
  return c.length >= 2 ? c : n
}

/** Matches every feature to at most one region org: exact name first, then the same core name. */
export function matchDistricts(features: DistrictFeature[], orgs: OrgLike[]): DistrictMatch {
  const regions = orgs.filter((o) => o.kind === 'region')
  const orgOf: Record<string, string> = {}
  const featureOf: Record<string, string> = {}
  const pass = (same: (f: string, o: string) => boolean): void => {
    for (const f of features) {
      if (orgOf[f.name]) continue
      const hit = regions.find((o) => !featureOf[o.id] && same(f.name, o.name))
      if (hit) { orgOf[f.name] = hit.id; featureOf[hit.id] = f.name }
    }
  }
  pass((f, o) => normalise(f) === normalise(o))
  pass((f, o) => core(f) === core(o))
  return {
    orgOf,
    featureOf,
    notOnMap: regions.filter((o) => !featureOf[o.id]),
    unmatchedFeatures: features.filter((f) => !orgOf[f.name]).map((f) => f.name),
  }
}

/** The features of a GeoJSON FeatureCollection as name and label point. */
export function featuresOf(geojson: { features: { properties: { name: string; cp?: [number, number] } }[] }): DistrictFeature[] {
  return geojson.features.map((f) => ({ name: f.properties.name, cp: f.properties.cp }))
}

let loaded: Promise<{ features: { properties: { name: string; cp?: [number, number] } }[] }> | null = null

/** The Hohhot district boundaries, fetched once as a separate asset (kept out of the JavaScript). */
export function loadDistricts(): Promise<{ features: { properties: { name: string; cp?: [number, number] } }[] }> {
  loaded ??= fetch(districtsUrl).then((r) => r.json())
  return loaded
}
