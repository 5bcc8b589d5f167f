import { loadSettingsFromEnv, UsageError } from './load';
import { Scenario } from './scenario';
import { chatStream } from './scenarios/chat-stream';
import { deployFanout } from './scenarios/deploy-fanout';
import { gateway } from './scenarios/gateway';
import { metrics } from './scenarios/metrics';
import { resources } from './scenarios/resources';
import { rest } from './scenarios/rest';
import { scheduler } from './scenarios/scheduler';
import { taskExec } from './scenarios/task-exec';
import { terminal } from './scenarios/terminal';

/** In the order `npm run bench` without an argument runs them. */
const SCENARIOS: Scenario[] = [rest, taskExec, resources, chatStream, deployFanout, scheduler, terminal, metrics, gateway];

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
    'Usage: npm run bench [scenario]   (no scenario: all of them)',
    'Known scenarios:',
    known,
    'Environment (rest): BENCH_DURATION (seconds, default 5), BENCH_CONNECTIONS (default 16)',
  ].join('\n');
}

async function main(): Promise<void> {
  // Both throw UsageError before anything starts.
  const scenarios = selectScenarios(process.argv.slice(2));
  const settings = loadSettingsFromEnv();
  for (const scenario of scenarios) {
    console.log(`\n== ${scenario.name}: ${scenario.description}\n`);
    console.log(await scenario.run(settings));
  }
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
