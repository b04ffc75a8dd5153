// The app's font stack, for what CSS does not reach (text drawn on a canvas by ECharts); styles.css gives the same.
export const FONT_FAMILY = '"Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", system-ui, sans-serif'
