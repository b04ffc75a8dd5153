// Integrity flags of evidence, explained in words a supervisor reads.
import { zh } from '@/messages/zh-CN'

/** One flag as the service records it in `flag_details`. */
export interface FlagDetail { flag: string; message?: string; distance_m?: number; source?: string }

/** Each raised flag once, in Chinese, with the distance when the service measured one. */
export function explainFlags(flags: string[], details: FlagDetail[] = []): { code: string; text: string }[] {
  return flags.map((code) => {
    const text = zh.evidence.flags[code] ?? code
    const far = details.find((d) => d.flag === code && typeof d.distance_m === 'number')
    return { code, text: far ? `${text}(${zh.evidence.flagDistance(far.distance_m!)})` : text }
  })
}
