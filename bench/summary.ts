import { isMet, Verdict } from './scenario';
import { renderTable } from './table';

/** One scenario's runs, in order: each run's verdicts, or `undefined` for a run that threw. */
export interface ScenarioRuns {
  name: string;
  runs: (Verdict[] | undefined)[];
}

export function formatValue(value: number, unit: Verdict['unit']): string {
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

/** A row per measure: the median of the runs that measured it (met or MISSED on it), each run's value and the target. */
export function summaryTable(scenarios: ScenarioRuns[]): string {
  const rows = scenarios.flatMap(({ name, runs }) => {
    const byMeasure = new Map<string, Verdict[]>();
    for (const verdict of runs.flatMap((verdicts) => verdicts ?? [])) {
      byMeasure.set(verdict.measure, [...(byMeasure.get(verdict.measure) ?? []), verdict]);
    }
    if (byMeasure.size === 0) return [[`${name}: no run completed`, '-', `0 of ${runs.length} runs`, '-', 'MISSED']];
    return [...byMeasure].map(([measure, verdicts]) => {
      const { unit, target } = verdicts[0];
      const values = verdicts.map(({ value }) => value);
      const value = midpoint(values);
      const missing = verdicts.length < runs.length ? ` (${verdicts.length} of ${runs.length} runs)` : '';
      return [
        measure,
        formatValue(value, unit),
        values.map((each) => formatValue(each, unit)).join(', ') + missing,
        formatTarget({ target, unit }),
        verdictWord({ value, target }),
      ];
    });
  });
  return renderTable(['measure', 'median', 'runs', 'target', 'verdict'], rows);
}
