// ISO 8601 weeks (Monday first; week 1 holds the year's first Thursday), which every SLI is kept by.
import { HbError } from "../../base/errors";

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;

/** The longest period a report covers, in weeks: ten years (each week is a row of every SLI). */
export const MAX_WEEKS = 520;

/** The ISO week of a moment, as `2026-W49`. */
export function isoWeek(ms: number): string {
  const d = new Date(ms);
  const thursday = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  thursday.setUTCDate(thursday.getUTCDate() + 4 - (thursday.getUTCDay() || 7));
  const year = thursday.getUTCFullYear();
  const week = Math.ceil(((thursday.getTime() - Date.UTC(year, 0, 1)) / DAY_MS + 1) / 7);
  return `${year}-W${String(week).padStart(2, "0")}`;
}

/** Monday 00:00 UTC of the ISO week holding `ms`. */
export function weekStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - ((d.getUTCDay() + 6) % 7) * DAY_MS;
}

/** The ISO weeks from the one holding `fromMs` to the one holding `nowMs`, oldest first, the current one last. */
export function weeksBetween(fromMs: number, nowMs: number): string[] {
  const weeks: string[] = [];
  for (let t = weekStart(fromMs); t <= nowMs; t += WEEK_MS) weeks.push(isoWeek(t));
  return weeks;
}

/**
 * Where a report of `--since` starts: Monday 00:00 UTC of the week holding the moment it names,
 * so that the first week is counted whole, like the others. `8w` is the current week and the 7
 * before it; `30d` goes back 30 days; `2026-10-01` is a day (UTC). At most MAX_WEEKS weeks.
 */
export function parseSince(text: string, nowMs: number): number {
  const rel = /^([1-9]\d{0,5})([dw])$/.exec(text);
  const day = /^\d{4}-\d{2}-\d{2}$/.test(text) ? Date.parse(`${text}T00:00:00Z`) : NaN;
  let from: number | undefined;
  if (rel) from = rel[2] === "w" ? weekStart(nowMs) - (Number(rel[1]) - 1) * WEEK_MS : weekStart(nowMs - Number(rel[1]) * DAY_MS);
  // a day that does not exist (2026-02-31) does not round-trip
  else if (!Number.isNaN(day) && new Date(day).toISOString().startsWith(text) && day <= nowMs) from = weekStart(day);
  if (from === undefined || (weekStart(nowMs) - from) / WEEK_MS + 1 > MAX_WEEKS) {
    throw new HbError("USAGE", `--since ${text}: give a number of weeks or days (8w, 30d) or a past date (2026-10-01)`, {
      hint: `at most ${MAX_WEEKS} weeks back; the report starts on the Monday of the week it names`,
    });
  }
  return from;
}
