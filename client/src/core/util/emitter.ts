/** A minimal typed event emitter, so core stays free of Node and framework APIs. */
export class Emitter<Events extends { [K in keyof Events]: (...args: never[]) => void }> {
  readonly #handlers = new Map<keyof Events, Set<Events[keyof Events]>>();

  on<K extends keyof Events>(event: K, handler: Events[K]): () => void {
    let set = this.#handlers.get(event);
    if (!set) this.#handlers.set(event, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    for (const h of [...(this.#handlers.get(event) ?? [])]) {
      try {
        (h as (...a: Parameters<Events[K]>) => void)(...args);
      } catch (e) {
        // A failing listener must not break delivery to the others.
        console.error(`listener for ${String(event)} failed`, e);
      }
    }
  }

  clear(): void {
    this.#handlers.clear();
  }
}
