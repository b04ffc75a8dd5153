// Phones give WGS-84; the district map is GCJ-02. Points are converted before they are placed on it,
// and converted back when a person sets a pin by hand. Distances for integrity checks stay in WGS-84.
import gcoord from 'gcoord'

/** [longitude, latitude] in WGS-84 → GCJ-02, for placing on the map. */
export function toMap(lon: number, lat: number): [number, number] {
  const [x, y] = gcoord.transform([lon, lat], gcoord.WGS84, gcoord.GCJ02) as [number, number]
  return [x, y]
}

/** [longitude, latitude] picked on the map (GCJ-02) → WGS-84, as the API stores positions. */
export function fromMap(lon: number, lat: number): [number, number] {
  const [x, y] = gcoord.transform([lon, lat], gcoord.GCJ02, gcoord.WGS84) as [number, number]
  return [x, y]
}

/** A position rounded to about a metre, as shown and sent. */
export function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6
}
