import type { TrustReport } from "@hb/core/engine";

// `hb report` as text and as one self-contained HTML page (no script, font or file from
// anywhere): the five SLIs week by week with the counts behind them, then the tables.

type Slis = TrustReport["slis"];
type SliId = keyof Slis;

interface SliView {
  id: SliId;
  title: string;
  /** how a value reads */
  format(v: number): string;
  /** which way is better */
  better: "up" | "down";
  /** the counts of each week, in words, oldest first */
  weekCounts(slis: Slis): string[];
}

/** A view of one SLI, its weeks' counts read with their own type. */
function view<K extends SliId>(id: K, v: Omit<SliView, "id" | "weekCounts"> & { counts(w: Slis[K]["weeks"][number]): string }): SliView {
  const { counts, ...rest } = v;
  const weeks = (slis: Slis): readonly Slis[K]["weeks"][number][] => slis[id].weeks;
  return { id, ...rest, weekCounts: (slis) => weeks(slis).map(counts) };
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

const SLIS: readonly SliView[] = [
  view("reproducibility", {
    title: "Reproducibility pass rate",
    format: pct,
    better: "up",
    counts: (w) => `${w.reproducible}/${w.verified} artifacts reproduced (release: ${w.releaseReproducible}/${w.releaseVerified})`,
  }),
  view("hermeticViolations", {
    title: "Hermetic violations",
    format: (v) => String(v),
    better: "down",
    counts: (w) =>
      `${w.audited} audited builds: ${w.auditFindings} audit findings; ${w.undeclaredTools} undeclared tools, ${w.missingInputs} missing inputs, ${w.unsandboxedInRelease} unsandboxed in release builds`,
  }),
  view("cacheIncidents", {
    title: "Remote cache correctness incidents",
    format: (v) => String(v),
    better: "down",
    counts: (w) => {
      const refused = Object.entries(w.refused)
        .map(([why, n]) => `${n} ${why}`)
        .join(", ");
      return `${refused || "no entry refused"}; ${w.localCorruption} local corruption`;
    },
  }),
  view("meanTimeToExplainMs", {
    title: "Mean time to explain a release",
    format: (v) => `${Math.round(v)} ms`,
    better: "down",
    counts: (w) => `${w.explained} explained, ${w.incomplete} not in full`,
  }),
  view("provenanceCoverage", {
    title: "Provenance coverage of release artifacts",
    format: pct,
    better: "up",
    counts: (w) => `${w.covered}/${w.built} release artifacts with trusted provenance`,
  }),
];

/** This week's value against last week's, and whether that is better, worse or the same. */
function trend(s: SliView, report: TrustReport): { now: string; last: string; direction: "better" | "worse" | "same" | "" } {
  const weeks = report.slis[s.id].weeks;
  const now = weeks[weeks.length - 1]?.value ?? null;
  const last = weeks[weeks.length - 2]?.value ?? null;
  const show = (v: number | null) => (v === null ? "no data" : s.format(v));
  if (now === null || last === null) return { now: show(now), last: show(last), direction: "" };
  const up = now > last;
  return { now: show(now), last: show(last), direction: now === last ? "same" : up === (s.better === "up") ? "better" : "worse" };
}

/** The team cache's own refusals (--server): counted since the server started, so beside the weeks, not in them. */
function serverNote(report: TrustReport): string | undefined {
  const server = report.slis.cacheIncidents.server;
  if (!server) return undefined;
  const refused = Object.entries(server.refused).map(([why, n]) => `${n} ${why}`);
  return `${server.url} since it started: ${refused.length > 0 ? refused.join(", ") : "no upload refused for correctness"}; ${server.corruptEntries} corrupt entries removed`;
}

/** Records left out because they could not be read as records: said, so a short count is not mistaken for the whole. */
const skippedNote = (report: TrustReport) => (report.skipped === 0 ? "" : ` (${report.skipped} skipped: not valid records of schema 1)`);

export function trustReportText(report: TrustReport): string {
  const lines = [
    `hb report: ${report.records} run records${skippedNote(report)}, ${report.weeks[0]} to ${report.weeks[report.weeks.length - 1]}`,
  ];
  for (const s of SLIS) {
    const sli = report.slis[s.id];
    const t = trend(s, report);
    const counts = s.weekCounts(report.slis);
    lines.push(
      "",
      `${s.title}: ${t.now} this week (${t.last} last week${t.direction ? `, ${t.direction}` : ""}); ${sli.value === null ? "no data" : s.format(sli.value)} over the period`,
      `  ${counts[counts.length - 1]}`,
    );
    const server = s.id === "cacheIncidents" ? serverNote(report) : undefined;
    if (server) lines.push(`  ${server}`);
  }
  const c = report.cache;
  lines.push(
    "",
    `Cache: ${c.local} local hits, ${c.remote} remote hits, ${c.executed} executed of ${c.actions} actions (hit rate ${c.hitRate === null ? "-" : pct(c.hitRate)})`,
  );
  if (report.slowest.length > 0) {
    lines.push("Slowest actions:");
    for (const a of report.slowest) lines.push(`  ${(a.durationMs / 1000).toFixed(2)} s  ${a.label} (${a.mnemonic})`);
  }
  if (report.lastBuildMisses.length > 0) {
    lines.push("Why the last build ran what it ran:");
    for (const m of report.lastBuildMisses) lines.push(`  ${m.label} (${m.mnemonic}): ${m.why}`);
  }
  if (report.flaky.length > 0) {
    lines.push("Flaky tests (the same key passed and failed):");
    for (const f of report.flaky) lines.push(`  ${f.label}: ${f.passed} passed, ${f.failed} failed with key ${f.key.slice(0, 12)}`);
  }
  lines.push(
    report.openBypasses.length === 0
      ? "Open gate bypasses: none"
      : `Open gate bypasses: ${report.openBypasses.map((b) => `${b.id} (${b.reason})`).join(", ")}`,
  );
  return lines.join("\n");
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** One SLI's weeks as an inline SVG line chart; weeks without data leave a gap. */
function chart(s: SliView, report: TrustReport): string {
  const weeks = report.slis[s.id].weeks;
  const [w, h, pad] = [560, 160, 28];
  const values = weeks.map((x) => x.value);
  const known = values.filter((v): v is number => v !== null);
  const max = s.format === pct ? 1 : Math.max(1, ...known);
  const x = (i: number) => pad + (weeks.length === 1 ? (w - 2 * pad) / 2 : (i * (w - 2 * pad)) / (weeks.length - 1));
  const y = (v: number) => h - pad - (v / max) * (h - 2 * pad);
  const segments: string[] = [];
  let current: string[] = [];
  values.forEach((v, i) => {
    if (v === null) {
      if (current.length) segments.push(current.join(" "));
      current = [];
    } else current.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
  });
  if (current.length) segments.push(current.join(" "));
  const points = values.flatMap((v, i) =>
    v === null
      ? []
      : [
          `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3"><title>${esc(weeks[i]!.week)}: ${esc(s.format(v))}</title></circle>`,
        ],
  );
  const labels = weeks
    .map((wk, i) =>
      i === 0 || i === weeks.length - 1 || weeks.length <= 8
        ? `<text x="${x(i).toFixed(1)}" y="${h - 8}" text-anchor="middle">${esc(wk.week)}</text>`
        : "",
    )
    .join("");
  return [
    `<svg class="chart" viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(s.title)} by week" data-sli="${s.id}">`,
    `<line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" class="axis"/>`,
    `<text x="${pad}" y="${pad - 10}">${esc(s.format(max))}</text>`,
    ...segments.map((p) => `<polyline points="${p}" class="line"/>`),
    ...points,
    labels,
    known.length === 0 ? `<text x="${w / 2}" y="${h / 2}" text-anchor="middle" class="empty">no data in this period</text>` : "",
    `</svg>`,
  ].join("");
}

function table(head: string[], rows: string[][]): string {
  if (rows.length === 0) return '<p class="none">none</p>';
  return `<table><thead><tr>${head.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

export function trustReportHtml(report: TrustReport): string {
  const cards = SLIS.map((s) => {
    const t = trend(s, report);
    const weeks = report.slis[s.id].weeks;
    const counts = s.weekCounts(report.slis);
    return `<section class="sli" id="${s.id}">
<h2>${esc(s.title)}</h2>
<p class="now"><span class="value">${esc(t.now)}</span> this week · last week ${esc(t.last)}${t.direction ? ` · <span class="${t.direction}">${t.direction}</span>` : ""}</p>
${chart(s, report)}${s.id === "cacheIncidents" && serverNote(report) ? `\n<p class="server">${esc(serverNote(report)!)}</p>` : ""}
${table(
  ["week", "value", "counts"],
  weeks.map((w, i) => [w.week, w.value === null ? "–" : s.format(w.value), counts[i]!]),
)}
</section>`;
  }).join("\n");
  const c = report.cache;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>hb trust report ${esc(report.weeks[report.weeks.length - 1] ?? "")}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:16px;color:#1b1f24}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:0 0 6px}.meta{color:#57606a;margin:0 0 16px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,480px),1fr));gap:16px}
.sli,.tables section{border:1px solid #d0d7de;border-radius:6px;padding:12px;break-inside:avoid}
.value{font-size:20px;font-weight:600}.better{color:#1a7f37}.worse{color:#cf222e}.same{color:#57606a}
.chart{width:100%;height:auto}.chart .line{fill:none;stroke:#0969da;stroke-width:2}.chart circle{fill:#0969da}
.chart .axis{stroke:#8c959f}.chart text{font-size:11px;fill:#57606a}.chart .empty{font-size:13px}
table{border-collapse:collapse;width:100%;font-size:12px;margin-top:6px}th,td{text-align:left;padding:3px 6px;border-top:1px solid #eaeef2;vertical-align:top}
.none{color:#57606a}.tables{display:grid;gap:16px;margin-top:16px}
@media print{body{max-width:none}.sli,.tables section{border-color:#999}}
</style></head><body>
<h1>hb trust report</h1>
<p class="meta">${report.records} run records${esc(skippedNote(report))} · ${esc(report.weeks[0] ?? "")} to ${esc(report.weeks[report.weeks.length - 1] ?? "")} · generated ${esc(report.generatedAt)}${report.release.targets.length ? ` · release targets: ${esc(report.release.targets.join(", "))}` : ""}</p>
<div class="grid">
${cards}
</div>
<div class="tables">
<section><h2>Cache hit rate by tier</h2>${table(
    ["actions", "local hits", "remote hits", "executed", "hit rate"],
    [[String(c.actions), String(c.local), String(c.remote), String(c.executed), c.hitRate === null ? "–" : pct(c.hitRate)]],
  )}</section>
<section><h2>Slowest actions</h2>${table(
    ["action", "mnemonic", "seconds", "run started"],
    report.slowest.map((a) => [a.label, a.mnemonic, (a.durationMs / 1000).toFixed(2), a.startedAt]),
  )}</section>
<section><h2>Why the last build ran what it ran</h2>${table(
    ["action", "mnemonic", "why"],
    report.lastBuildMisses.map((m) => [m.label, m.mnemonic, m.why]),
  )}</section>
<section><h2>Flaky tests</h2>${table(
    ["test", "key", "passed", "failed"],
    report.flaky.map((f) => [f.label, f.key.slice(0, 12), String(f.passed), String(f.failed)]),
  )}</section>
<section><h2>Open gate bypasses</h2>${table(
    ["incident", "reason", "since", "commit"],
    report.openBypasses.map((b) => [b.id, b.reason, b.at, b.sourceCommit.slice(0, 12)]),
  )}</section>
</div>
</body></html>
`;
}
