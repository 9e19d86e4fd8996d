import type { HbError } from "@hb/core/engine";
import { errorText } from "./messages";

/** Where messages go: stderr for everything but a command's answer (query output, ...). */
export interface Terminal {
  readonly isTTY: boolean;
  /** a line above any live status line */
  line(text: string): void;
  /** replace the live status line (TTY only) */
  status(text: string): void;
  clearStatus(): void;
  error(e: HbError): void;
  warn(text: string): void;
}

export function createTerminal(stream: NodeJS.WriteStream = process.stderr): Terminal {
  const isTTY = stream.isTTY === true && process.env.TERM !== "dumb";
  let statusShown = false;
  const clear = () => {
    if (statusShown) {
      stream.write("\r\x1b[K");
      statusShown = false;
    }
  };
  return {
    isTTY,
    line(text) {
      clear();
      stream.write(text.endsWith("\n") ? text : `${text}\n`);
    },
    status(text) {
      if (!isTTY) return;
      const width = (stream.columns || 100) - 1;
      stream.write(`\r\x1b[K${text.length > width ? `${text.slice(0, width - 3)}...` : text}`);
      statusShown = true;
    },
    clearStatus: clear,
    error(e) {
      this.line(errorText(e.toData()));
    },
    warn(text) {
      this.line(`WARNING: ${text}`);
    },
  };
}
