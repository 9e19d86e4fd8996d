/**
 * Work that need not delay the next action (materializing outputs, laying out a waiting action's
 * sandbox, removing a used one): runs in slices of about 2 ms when the event loop is otherwise
 * idle, while actions run; `finish` does what is left at the end of the build.
 */
export class Background {
  private readonly queue: (() => void)[] = [];
  private scheduled = false;

  constructor(private readonly onError: (e: unknown) => void) {}

  push(work: () => void): void {
    this.queue.push(work);
    this.schedule();
  }

  finish(): void {
    while (this.queue.length > 0) this.runOne();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const until = performance.now() + 2;
      while (this.queue.length > 0 && performance.now() < until) this.runOne();
      if (this.queue.length > 0) this.schedule();
    });
  }

  private runOne(): void {
    const work = this.queue.shift()!;
    try {
      work();
    } catch (e) {
      this.onError(e);
    }
  }
}
