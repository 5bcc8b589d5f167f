import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { LoadSettings, loadSettingsFromEnv, positiveInt, UsageError } from './load';
import { Scenario } from './scenario';
import { chatStream } from './scenarios/chat-stream';
import { deployFanout } from './scenarios/deploy-fanout';
import { gateway } from './scenarios/gateway';
import { metrics } from './scenarios/metrics';
import { resources } from './scenarios/resources';
import { rest } from './scenarios/rest';
import { scale } from './scenarios/scale';
import { scheduler } from './scenarios/scheduler';
import { taskExec } from './scenarios/task-exec';
import { terminal } from './scenarios/terminal';
import { ScenarioRuns, summaryTable } from './summary';

/** In the order `npm run bench` without an argument runs them. */
const SCENARIOS: Scenario[] = [rest, taskExec, resources, chatStream, deployFanout, scheduler, terminal, metrics, gateway, scale];
const DEFAULT_RUNS = 3;
const RESULTS_FILE = join(__dirname, 'RESULTS.md');

function selectScenarios(args: string[]): Scenario[] {
  if (args.length > 1) throw new UsageError(`Expected at most one scenario, got: ${args.join(' ')}`);
  if (args.length === 0) return SCENARIOS;
  const scenario = SCENARIOS.find(({ name }) => name === args[0]);
  if (!scenario) throw new UsageError(`Unknown scenario "${args[0]}"`);
  return [scenario];
}

function usage(): string {
  const width = Math.max(...SCENARIOS.map(({ name }) => name.length));
  const known = SCENARIOS.map(({ name, description }) => `  ${name.padEnd(width)} ${description}`).join('\n');
  return [
    'Usage: npm run bench [scenario]   (no scenario: all of them, and the summary is written to bench/RESULTS.md)',
    'Known scenarios:',
    known,
    `Environment: BENCH_RUNS (runs of each scenario, default ${DEFAULT_RUNS}; the summary takes the median of their figures)`,
    'Environment (rest, scale): BENCH_DURATION (seconds, default 5), BENCH_CONNECTIONS (default 16)',
    'Environment (scale): BENCH_DATABASE_URL (PostgreSQL whose public schema it empties, default the local test database)',
  ].join('\n');
}

/** Runs `scenario` `runs` times, printing each report; a run that throws is reported and counted, not fatal. */
async function runScenario(scenario: Scenario, runs: number, settings: LoadSettings): Promise<ScenarioRuns> {
  const outcome: ScenarioRuns = { name: scenario.name, runs: [] };
  for (let run = 1; run <= runs; run++) {
    console.log(`\n== ${scenario.name} (run ${run} of ${runs}): ${scenario.description}\n`);
    try {
      const { report, verdicts, reported = [] } = await scenario.run(settings);
      console.log(report);
      outcome.runs.push([...verdicts, ...reported]);
    } catch (error: unknown) {
      // The error itself, not its stack: inspecting it also prints its cause (fetch's "fetch failed" says nothing more).
      console.error(`${scenario.name} run ${run} of ${runs} FAILED:`, error);
      outcome.runs.push(undefined);
      process.exitCode = 1;
    }
  }
  return outcome;
}

/** What RESULTS.md records besides the table. */
interface RunContext {
  startedAt: Date;
  loadBefore: number[];
  loadAfter: number[];
  runs: number;
  settings: LoadSettings;
}

async function writeResults(table: string, { startedAt, loadBefore, loadAfter, runs, settings }: RunContext): Promise<void> {
  const load = (averages: number[]) => averages.map((average) => average.toFixed(2)).join(' ');
  const cores = cpus();
  const text = [
    '# Benchmark results',
    '',
    `- date: ${startedAt.toISOString()}`,
    `- machine: ${cores.length} cores, ${cores[0]?.model ?? 'unknown model'}`,
    `- load average (1, 5, 15 min): ${load(loadBefore)} at start, ${load(loadAfter)} at end`,
    `- node: ${process.version}`,
    `- BENCH_RUNS: ${runs} (rest: BENCH_DURATION ${settings.durationSec} s, BENCH_CONNECTIONS ${settings.connections})`,
    '',
    '```text',
    table,
    '```',
    '',
    'Regenerate with `npm run bench` (every scenario; it rewrites this file).',
    '',
  ].join('\n');
  await writeFile(RESULTS_FILE, text);
  console.log(`\nwritten to ${RESULTS_FILE}`);
}

async function main(): Promise<void> {
  // These throw UsageError before anything starts.
  const scenarios = selectScenarios(process.argv.slice(2));
  const settings = loadSettingsFromEnv();
  const runs = positiveInt(process.env, 'BENCH_RUNS', DEFAULT_RUNS);
  const startedAt = new Date();
  const loadBefore = loadavg();
  const outcomes: ScenarioRuns[] = [];
  for (const scenario of scenarios) outcomes.push(await runScenario(scenario, runs, settings));
  const table = summaryTable(outcomes);
  console.log(`\n== summary: median of ${runs} run(s) per scenario\n\n${table}`);
  // A single scenario's table is no record of the bench.
  if (scenarios === SCENARIOS) await writeResults(table, { startedAt, loadBefore, loadAfter: loadavg(), runs, settings });
}

// No process.exit(): every scenario stops what it started, so the process ends by itself when done.
main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n\n${usage()}`);
    process.exitCode = 2;
  } else {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
  }
});
