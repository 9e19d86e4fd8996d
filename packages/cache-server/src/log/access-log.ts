/** One line of the access log. Names a token by its configured name, never by its value. */
export interface AccessLogEntry {
  time: string;
  method: string;
  path: string;
  /** the URL's instance ("" without one); null when the path named no entry */
  instance: string | null;
  status: number;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  /** the token's name, "anonymous", or "-" before authentication */
  tokenName: string;
  remote: string;
  /** why the request was refused, when it was */
  reason?: string;
}

export type AccessLogSink = (entry: AccessLogEntry) => void;

/** JSON lines, one per request. */
export function jsonLines(write: (line: string) => void): AccessLogSink {
  return (entry) => write(`${JSON.stringify(entry)}\n`);
}
