// ISO 8601 weeks (Monday first; week 1 holds the year's first Thursday), which every SLI is kept by.

/** The ISO week of a moment, as `2026-W49`. */
export function isoWeek(ms: number): string {
  const d = new Date(ms);
  const thursday = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  thursday.setUTCDate(thursday.getUTCDate() + 4 - (thursday.getUTCDay() || 7));
  const year = thursday.getUTCFullYear();
  const week = Math.ceil(((thursday.getTime() - Date.UTC(year, 0, 1)) / 86_400_000 + 1) / 7);
  return `${year}-W${String(week).padStart(2, "0")}`;
}

/** The ISO weeks from `sinceMs` to `nowMs`, oldest first, the current one last. */
export function weeksBetween(sinceMs: number, nowMs: number): string[] {
  const weeks: string[] = [];
  for (let t = sinceMs; ; t += 7 * 86_400_000) {
    const w = isoWeek(Math.min(t, nowMs));
    if (weeks[weeks.length - 1] !== w) weeks.push(w);
    if (t >= nowMs) break;
  }
  const last = isoWeek(nowMs);
  if (weeks[weeks.length - 1] !== last) weeks.push(last);
  return weeks;
}

/** `--since 8w`, `30d`, `2026-10-01`: the moment it names. */
export function parseSince(text: string, nowMs: number): number | undefined {
  const rel = /^(\d+)([dw])$/.exec(text);
  if (rel) return nowMs - Number(rel[1]) * (rel[2] === "w" ? 7 : 1) * 86_400_000;
  const abs = Date.parse(text);
  return Number.isNaN(abs) ? undefined : abs;
}
