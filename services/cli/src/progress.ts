import { Presets, SingleBar } from "cli-progress";

export interface Progress {
  update(done: number): void;
  stop(): void;
}

/** Rate and time left from what was done since `startedAt` (what was done before a resume does not count). */
export function rateAndEta(done: number, startDone: number, total: number, elapsedMs: number) {
  const rate = elapsedMs > 0 ? ((done - startDone) * 1000) / elapsedMs : 0;
  const etaSeconds = rate > 0 ? Math.max(0, total - done) / rate : undefined;
  return { rate, etaSeconds };
}

/** A bar with rate and ETA in a terminal (stderr), one plain line per update otherwise (logs, pipes, CI). */
export function progressFor(
  label: string,
  total: number,
  done: number,
  out: (line: string) => void,
): Progress {
  if (process.stderr.isTTY) {
    const bar = new SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} {percentage}% | {rate}/s | ETA {eta_formatted}`,
        hideCursor: true,
      },
      Presets.shades_classic,
    );
    const started = Date.now();
    bar.start(total, done, { rate: "0" });
    return {
      update(n) {
        const { rate } = rateAndEta(n, done, total, Date.now() - started);
        bar.update(n, { rate: rate.toFixed(0) });
      },
      stop: () => bar.stop(),
    };
  }
  const started = Date.now();
  return {
    update(n) {
      const { rate, etaSeconds } = rateAndEta(n, done, total, Date.now() - started);
      const eta = etaSeconds === undefined ? "?" : `${Math.ceil(etaSeconds)}s`;
      out(`${label}: ${n}/${total} (${rate.toFixed(0)}/s, eta ${eta})`);
    },
    stop() {},
  };
}
