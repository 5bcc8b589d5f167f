import { Figure, hasTarget, isMet, Verdict } from './scenario';
import { renderTable } from './table';

/** One scenario's runs, in order: each run's verdicts and reported figures, or `undefined` for a run that threw. */
export interface ScenarioRuns {
  name: string;
  runs: (Figure[] | undefined)[];
}

export function formatValue(value: number, unit: Figure['unit']): string {
  switch (unit) {
    case 'x':
      return `${value.toFixed(2)}x`;
    case '%':
      return `${(value * 100).toFixed(1)}%`;
    case 'ms':
      return `${value.toFixed(2)} ms`;
  }
}

/** e.g. `<= 1.10x`. */
export const formatTarget = ({ target, unit }: Pick<Verdict, 'target' | 'unit'>): string => `${target.bound} ${formatValue(target.value, unit)}`;

export const verdictWord = (verdict: Pick<Verdict, 'value' | 'target'>): string => (isMet(verdict) ? 'met' : 'MISSED');

/** For a scenario's report: `(target <= 1.10x: met)`. */
export const targetNote = (verdict: Verdict): string => `(target ${formatTarget(verdict)}: ${verdictWord(verdict)})`;

/**
 * The middle value, or the mean of the two middle ones: not api.ts's nearest-rank median, which takes the lower of
 * two runs and so would favour every `<=` target and count against every `>=` one.
 */
function midpoint(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * A row per measure: the median of the runs that measured it, each run's value, and the target with met or MISSED on
 * it; a figure without a target is marked `report`.
 */
export function summaryTable(scenarios: ScenarioRuns[]): string {
  const rows = scenarios.flatMap(({ name, runs }) => {
    const byMeasure = new Map<string, Figure[]>();
    for (const figure of runs.flatMap((figures) => figures ?? [])) {
      byMeasure.set(figure.measure, [...(byMeasure.get(figure.measure) ?? []), figure]);
    }
    if (byMeasure.size === 0) return [[`${name}: no run completed`, '-', `0 of ${runs.length} runs`, '-', 'MISSED']];
    return [...byMeasure].map(([measure, figures]) => {
      const [first] = figures;
      const { unit } = first;
      const values = figures.map(({ value }) => value);
      const value = midpoint(values);
      const missing = figures.length < runs.length ? ` (${figures.length} of ${runs.length} runs)` : '';
      const judged = hasTarget(first) ? [formatTarget(first), verdictWord({ value, target: first.target })] : ['-', 'report'];
      return [measure, formatValue(value, unit), values.map((each) => formatValue(each, unit)).join(', ') + missing, ...judged];
    });
  });
  return renderTable(['measure', 'median', 'runs', 'target', 'verdict'], rows);
}
