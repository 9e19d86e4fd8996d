import { setFlagsFromString } from "node:v8";

/**
 * Keeps V8's young generation at the size it has. The server moves large bodies through many
 * buffers alive for a moment each; with many bodies in flight, enough of them survive a scavenge
 * that V8 grows the young generation to 2 x 16 MiB and keeps it, a fifth of the memory a busy
 * server stays within (150 MiB under 64 large transfers at once). Held, scavenges stay short and
 * the RSS flat. V8 reads the growth factor whenever it would grow the space, so setting it at run
 * time works; a worker thread starting sets V8's flags back to the command line's, so it is set
 * again each time the digest thread is up.
 */
export function holdYoungGeneration(): void {
  setFlagsFromString("--semi-space-growth-factor=1");
}
