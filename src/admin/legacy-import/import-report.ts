import { LEGACY_TABLES, LegacyTable } from './legacy-database';

/** Legacy ids listed per reason at most; the rest are counted. */
const IDS_SHOWN = 10;

/** What became of one old table's rows. */
class TableReport {
  imported = 0;
  alreadyPresent = 0;
  /** Why rows were left out → their legacy ids. */
  readonly skipped = new Map<string, number[]>();
  /** What had to change in rows that were imported → their legacy ids. */
  readonly changed = new Map<string, number[]>();
  /** Legacy id → our id, where the legacy id was taken. */
  readonly newIds = new Map<number, number>();

  get skippedCount(): number {
    return [...this.skipped.values()].reduce((sum, ids) => sum + ids.length, 0);
  }

  lines(table: LegacyTable, dryRun: boolean): string[] {
    const lines = [
      `${table}: ${dryRun ? 'would import' : 'imported'} ${this.imported}, already present ${this.alreadyPresent}, skipped ${this.skippedCount}`,
    ];
    for (const [reason, ids] of this.skipped) lines.push(`  skipped ${listed(ids)}: ${reason}`);
    for (const [change, ids] of this.changed) lines.push(`  changed ${listed(ids)}: ${change}`);
    if (this.newIds.size > 0) {
      lines.push(`  new ids (the old ones were taken): ${[...this.newIds].map(([legacy, ours]) => `#${legacy} → ${ours}`).join(', ')}`);
    }
    return lines;
  }
}

/** The summary of an import: per table what was imported, what was skipped and changed, and why. */
export class ImportReport {
  private readonly tables = new Map(LEGACY_TABLES.map((table) => [table, new TableReport()]));
  logosCopied = 0;
  tasksEnabled = 0;

  constructor(readonly dryRun: boolean) {}

  imported(table: LegacyTable, legacyId: number, id: number, changes: string[]): void {
    const report = this.of(table);
    report.imported++;
    if (legacyId !== id) report.newIds.set(legacyId, id);
    for (const change of changes) append(report.changed, change, legacyId);
  }

  alreadyPresent(table: LegacyTable): void {
    this.of(table).alreadyPresent++;
  }

  skipped(table: LegacyTable, legacyId: number, reason: string): void {
    append(this.of(table).skipped, reason, legacyId);
  }

  counts(): Record<string, { imported: number; already_present: number; skipped: number }> {
    return Object.fromEntries(
      [...this.tables].map(([table, report]) => [
        table,
        { imported: report.imported, already_present: report.alreadyPresent, skipped: report.skippedCount },
      ]),
    );
  }

  toString(): string {
    const lines = [this.dryRun ? 'Dry run: nothing was changed. An import would do this:' : 'Import finished:'];
    for (const [table, report] of this.tables) lines.push(...report.lines(table, this.dryRun));
    lines.push(`logo files ${this.dryRun ? 'to copy' : 'copied'}: ${this.logosCopied}`);
    if (this.tasksEnabled > 0) lines.push(`tasks enabled (--enable-tasks: the scheduler runs them): ${this.tasksEnabled}`);
    return lines.join('\n');
  }

  private of(table: LegacyTable): TableReport {
    return this.tables.get(table)!;
  }
}

function append(reasons: Map<string, number[]>, reason: string, legacyId: number): void {
  const ids = reasons.get(reason);
  if (ids) ids.push(legacyId);
  else reasons.set(reason, [legacyId]);
}

/** `#3, #7` or, for many, `#1, #2, … and 40 more`. */
function listed(ids: number[]): string {
  const shown = ids.slice(0, IDS_SHOWN).map((id) => `#${id}`);
  return ids.length > IDS_SHOWN ? `${shown.join(', ')} and ${ids.length - IDS_SHOWN} more` : shown.join(', ');
}
