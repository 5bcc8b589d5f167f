import { Inject, Injectable } from '@nestjs/common';
import { StringDecoder } from 'node:string_decoder';
import type { ClientChannel } from 'ssh2';
import { sshConfig, SshConfig } from '../config/configuration';
import { loginShellCommand } from './shell-quote';
import { crlfToLf } from './crlf-to-lf';
import { OpenDeadlineExpired, openWithin } from './open-deadline';
import { ExitRecord, OpenedChannel, SshPool } from './ssh-pool.service';
import { SshError, SshTarget } from './ssh-target';

export interface ExecOptions {
  /** Ends the command (its channel is closed, which hangs up its pty) after this long. */
  timeoutMs: number;
  /** Output kept; the rest is dropped and `truncated` set. Defaults to EXEC_MAX_OUTPUT_BYTES. */
  maxOutputBytes?: number;
  /** Run under a pty, as the old backend did (login environment, merged stderr). Default true. */
  pty?: boolean;
  /** Called once the server has accepted the command (never when it could not start), before any output. */
  onStarted?: () => void;
  /** Called with each piece of decoded output as it arrives. */
  onOutput?: (text: string) => void;
}

export interface ExecResult {
  /** Exit status 0. */
  success: boolean;
  output: string;
  /** Standard error (empty under a pty, which merges it into output), or why the command could not run. */
  error: string;
  exit_status: number | null;
  truncated: boolean;
  timed_out: boolean;
}

/** Caps and decodes one output stream: UTF-8 characters are never split across chunks. */
class OutputBuffer {
  private readonly decoder = new StringDecoder('utf8');
  private text = '';
  private bytes = 0;
  truncated = false;

  constructor(
    private readonly limit: number,
    private readonly onText?: (text: string) => void,
  ) {}

  push(chunk: Buffer): void {
    const room = this.limit - this.bytes;
    if (room <= 0) {
      this.truncated = true;
      return;
    }
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.truncated ||= kept.length < chunk.length;
    this.bytes += kept.length;
    this.append(this.decoder.write(kept));
  }

  finish(): string {
    this.append(this.decoder.end());
    return this.text;
  }

  private append(text: string): void {
    if (!text) return;
    this.text += text;
    this.onText?.(text);
  }
}

/** What a command that ran left behind, and how it ended. */
interface RanCommand {
  stdout: OutputBuffer;
  stderr: OutputBuffer;
  exit: ExitRecord;
  timedOut: boolean;
  timeoutMs: number;
  limit: number;
  pty: boolean;
}

/** The result of a command that ran: its output, and every reason it did not simply succeed. */
function ranResult({ stdout, stderr, exit, timedOut, timeoutMs, limit, pty }: RanCommand): ExecResult {
  const exitStatus = exit.code ?? null;
  const signal = exit.signal;
  const output = stdout.finish();
  const errorText = stderr.finish();
  const reasons = [
    errorText,
    timedOut ? `Command timed out after ${timeoutMs / 1000} s and was ended` : '',
    signal && !timedOut ? `Command ended by signal ${signal}` : '',
    stdout.truncated || stderr.truncated ? `Output truncated at ${limit} bytes` : '',
  ].filter(Boolean);
  return {
    success: !timedOut && exitStatus === 0,
    output: pty ? crlfToLf(output) : output,
    error: reasons.join('\n'),
    exit_status: timedOut ? null : exitStatus,
    truncated: stdout.truncated || stderr.truncated,
    timed_out: timedOut,
  };
}

/** How long a timed-out command's channel may take to confirm its close before the result is given anyway. */
const CLOSE_GRACE_MS = 5000;

/** Runs commands on servers over pooled SSH connections: `bash -l -c '<command>'`, with a pty by default. */
@Injectable()
export class SshExecutor {
  constructor(
    private readonly pool: SshPool,
    @Inject(sshConfig.KEY) private readonly config: SshConfig,
  ) {}

  async exec(target: SshTarget, command: string, options: ExecOptions): Promise<ExecResult> {
    const limit = options.maxOutputBytes ?? this.config.maxOutputBytes;
    const pty = options.pty ?? true;
    const deadline = Date.now() + options.timeoutMs;
    let opened: OpenedChannel;
    try {
      opened = await openWithin(
        this.pool.openExec(target, loginShellCommand(command), pty ? { term: 'xterm', cols: 200, rows: 50 } : false),
        options.timeoutMs,
        (late) => this.pool.release(late),
      );
    } catch (error) {
      return this.notStarted(target, error, options.timeoutMs);
    }
    options.onStarted?.();
    const { channel, exit } = opened;
    const stdout = new OutputBuffer(limit, options.onOutput);
    const stderr = new OutputBuffer(limit);
    channel.on('data', (chunk: Buffer) => stdout.push(chunk));
    channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timedOut = await this.closedOrTimedOut(channel, deadline);
    return ranResult({ stdout, stderr, exit, timedOut, timeoutMs: options.timeoutMs, limit, pty });
  }

  /** The result of a command that never started: no connection or no channel, in time or at all. */
  private notStarted(target: SshTarget, error: unknown, timeoutMs: number): ExecResult {
    const timedOut = error instanceof OpenDeadlineExpired || (error instanceof SshError && error.kind === 'timeout');
    const message =
      error instanceof OpenDeadlineExpired
        ? this.describeOpenTimeout(target, timeoutMs)
        : error instanceof SshError
          ? error.message
          : `SSH to ${target.host}:${target.port} failed: ${String(error)}`;
    return { success: false, output: '', error: message, exit_status: null, truncated: false, timed_out: timedOut };
  }

  /**
   * Waits for the command's channel to close; at the deadline, closes it and says the command timed out
   * (true). A server that does not confirm the close does not get to hold the caller too.
   */
  private closedOrTimedOut(channel: ClientChannel, deadline: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let timedOut = false;
      let closeTimer: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(timer);
        clearTimeout(closeTimer);
        channel.off('close', finish);
        resolve(timedOut);
      };
      const timer = setTimeout(
        () => {
          timedOut = true;
          this.pool.release(channel);
          closeTimer = setTimeout(finish, CLOSE_GRACE_MS);
        },
        Math.max(0, deadline - Date.now()),
      );
      channel.once('close', finish);
    });
  }

  /** Which phase the command's own deadline cut short: the connection was up, or it was still being made. */
  private describeOpenTimeout(target: SshTarget, timeoutMs: number): string {
    const address = `${target.host}:${target.port}`;
    return this.pool.state(target.serverId).connections > 0
      ? `Timed out after ${timeoutMs} ms opening an SSH channel on ${address} (channel open)`
      : `Timed out after ${timeoutMs} ms connecting to ${address}`;
  }
}
