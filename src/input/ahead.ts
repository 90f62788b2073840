/**
 * Reads ahead of the consumer: items of `source` are pulled into a queue (up to `maxItems`,
 * or `maxBytes` of them) while the consumer works on earlier ones, and `started` is called
 * for each as soon as it is read (to start parsing it, say). The consumer gets every item
 * as soon as it is read, never waiting for the ones after it; errors of the source come
 * after the items read before them.
 */
export async function* readAhead<T>(
  source: AsyncIterable<T>,
  opts: {
    maxItems: number; maxBytes: number; size(item: T): number; started(item: T, index: number): void;
    /** Called when the consumer stops early while the source may be waiting for input (stdin). */
    abort?: () => void;
  },
): AsyncGenerator<T> {
  const queue: T[] = [];
  let queuedBytes = 0;
  let finished = false;
  let failure: { error: unknown } | null = null;
  let stopped = false;
  let wakeConsumer: (() => void) | null = null;
  let wakePump: (() => void) | null = null;
  const consumerWake = () => { const w = wakeConsumer; wakeConsumer = null; w?.(); };
  const pumpWake = () => { const w = wakePump; wakePump = null; w?.(); };

  const pump = (async () => {
    let index = 0;
    try {
      for await (const item of source) {
        queue.push(item);
        queuedBytes += opts.size(item);
        opts.started(item, index++);
        consumerWake();
        while (!stopped && queue.length && (queue.length >= opts.maxItems || queuedBytes >= opts.maxBytes)) {
          await new Promise<void>((r) => { wakePump = r; });
        }
        if (stopped) break;
      }
    } catch (error) {
      failure = { error };
    } finally {
      finished = true;
      consumerWake();
    }
  })();

  try {
    for (;;) {
      if (queue.length) {
        const item = queue.shift()!;
        queuedBytes -= opts.size(item);
        pumpWake();
        yield item;
        continue;
      }
      if (finished) {
        if (failure) throw (failure as { error: unknown }).error;
        return;
      }
      await new Promise<void>((r) => { wakeConsumer = r; });
    }
  } finally {
    stopped = true;
    pumpWake();
    if (!finished) opts.abort?.();
    void pump;
  }
}
