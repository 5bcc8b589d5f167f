import { LoadSettings } from './load';

/** A figure a run measured, for the summary table. */
export interface Figure {
  /** What is compared, the same on every run of the scenario, e.g. `rest GET /api/brands (token): share of bare Express`. */
  measure: string;
  /** The measured figure; runs are combined by their median. */
  value: number;
  /** How `value` is printed: a ratio (`x`), a share (`%`, value 0..1) or milliseconds. */
  unit: 'x' | '%' | 'ms';
}

/** One target of issue #19 and what a run measured against it. */
export interface Verdict extends Figure {
  /** The bound the figure must keep: at most (`<=`) or at least (`>=`). */
  target: { bound: '<=' | '>='; value: number };
}

export interface ScenarioResult {
  /** The scenario's full report, printed as it is. */
  report: string;
  /** Its figures against their targets, for the summary table. */
  verdicts: Verdict[];
  /** Figures the summary reports without a target: what the issue asks reported (a cold call, start lags), floors' own costs. */
  reported?: Figure[];
}

export interface Scenario {
  /** The command-line name: `npm run bench <name>`. */
  name: string;
  description: string;
  /** Runs the measurements; must stop whatever it started, even on failure. */
  run(settings: LoadSettings): Promise<ScenarioResult>;
}

export const hasTarget = (figure: Figure): figure is Verdict => 'target' in figure;

export function isMet({ value, target }: Pick<Verdict, 'value' | 'target'>): boolean {
  return target.bound === '<=' ? value <= target.value : value >= target.value;
}
