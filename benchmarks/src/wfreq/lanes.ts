// Lanes: independent parts of the benchmark that may run side by side on the simulated cluster.
//
// Every simulated machine is capped by its CPU quota, so two experiments on disjoint machines do
// not take compute from each other as long as the host has a core's worth of room for all the
// shares together. A lane says how many machines it occupies (a run on k VMs: k + 1 with the
// initiator); `runLanes` starts lanes first-fit, longest expected first (then in the order given),
// while the machines of the running lanes fit the budget (the shares fit the host's cores, less a tenth of a core for the
// harness and the kernel). A lane larger than the budget runs alone.
// With `concurrent: false` lanes run one after another.

export interface Lane {
  /** For progress and errors, e.g. "4 VMs". */
  name: string;
  /** Simulated machines the lane keeps busy while it runs. */
  machines: number;
  /**
   * Expected duration, in any unit shared by all lanes (e.g. single-machine run times): the
   * longest lanes start first, so that the short ones fill the gaps at the end. Default 1.
   */
  length?: number;
  run(): Promise<void>;
}

export interface LaneOptions {
  /** Machines that may be busy at once. */
  budget: number;
  concurrent: boolean;
}

/** Machines whose shares fit the host's cores at once, `reserve` cores kept free (at least 1). */
export function machineBudget(hostCores: number, share: number, reserve = 0.1): number {
  // A hair of slack so that 1.9 ÷ 0.19 is 10, not 9.999….
  return Math.max(1, Math.floor((hostCores - reserve) / share + 1e-9));
}

/**
 * Runs every lane once. Rejects with the first lane's error as soon as it happens (lanes still
 * running are left to the caller's teardown, which kills their processes; their later errors are
 * ignored); resolves when all lanes are done.
 */
export function runLanes(lanes: readonly Lane[], options: LaneOptions): Promise<void> {
  // Stable: equal lengths keep their order; serially, the order given is the order run.
  const pending = options.concurrent ? [...lanes].sort((a, b) => (b.length ?? 1) - (a.length ?? 1)) : [...lanes];
  let busy = 0;
  let running = 0;
  let failed = false;
  return new Promise<void>((resolve, reject) => {
    const fits = (lane: Lane): boolean => {
      if (running === 0) return true;
      if (!options.concurrent) return false;
      return busy + lane.machines <= options.budget;
    };
    const pump = (): void => {
      if (failed) return;
      for (let i = 0; i < pending.length; ) {
        const lane = pending[i]!;
        if (!fits(lane)) {
          i++;
          continue;
        }
        pending.splice(i, 1);
        busy += lane.machines;
        running++;
        lane.run().then(
          () => {
            busy -= lane.machines;
            running--;
            if (running === 0 && pending.length === 0) resolve();
            else pump();
          },
          (err: unknown) => {
            if (failed) return;
            failed = true;
            reject(err);
          },
        );
      }
    };
    if (pending.length === 0) resolve();
    else pump();
  });
}

/** One status line out of the lanes' own (progress display for lanes running side by side). */
export class LaneStatus {
  private readonly parts = new Map<string, string>();
  constructor(private readonly show: (line: string) => void) {}

  set(lane: string, text: string): void {
    this.parts.set(lane, text);
    this.render();
  }

  clear(lane: string): void {
    this.parts.delete(lane);
    if (this.parts.size) this.render();
  }

  private render(): void {
    this.show([...this.parts.values()].join(' · '));
  }
}
