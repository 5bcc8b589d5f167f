import { LoadSettings } from './load';

export interface Scenario {
  /** The command-line name: `npm run bench <name>`. */
  name: string;
  description: string;
  /** Runs the measurements and returns the report to print; must stop whatever it started, even on failure. */
  run(settings: LoadSettings): Promise<string>;
}
