import { Inject, Injectable } from '@nestjs/common';
import { StringDecoder } from 'node:string_decoder';
import { sshConfig, SshConfig } from '../config/configuration';
import { loginShellCommand } from './shell-quote';
import { SshPool } from './ssh-pool.service';
import { SshError, SshTarget } from './ssh-target';

export interface ExecOptions {
  /** Ends the command (its channel is closed, which hangs up its pty) after this long. */
  timeoutMs: number;
  /** Output kept; the rest is dropped and `truncated` set. Defaults to EXEC_MAX_OUTPUT_BYTES. */
  maxOutputBytes?: number;
  /** Run under a pty, as the old backend did (login environment, merged stderr). Default true. */
  pty?: boolean;
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
    let opened;
    try {
      opened = await withTimeout(
        this.pool.openExec(target, loginShellCommand(command), pty ? { term: 'xterm', cols: 200, rows: 50 } : false),
        options.timeoutMs,
      );
    } catch (error) {
      const message = error instanceof SshError ? error.message : `SSH to ${target.host}:${target.port} failed: ${String(error)}`;
      const timedOut = error instanceof TimeoutError;
      return {
        success: false,
        output: '',
        error: timedOut ? `Timed out after ${options.timeoutMs} ms connecting to ${target.host}:${target.port}` : message,
        exit_status: null,
        truncated: false,
        timed_out: timedOut,
      };
    }
    const { channel, exit } = opened;
    const stdout = new OutputBuffer(limit, options.onOutput);
    const stderr = new OutputBuffer(limit);
    channel.on('data', (chunk: Buffer) => stdout.push(chunk));
    channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));

    return new Promise<ExecResult>((resolve) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        channel.close();
      }, Math.max(0, deadline - Date.now()));
      channel.once('close', () => {
        clearTimeout(timer);
        const exitStatus = exit.code ?? null;
        const signal = exit.signal;
        const output = stdout.finish();
        const errorText = stderr.finish();
        const reasons = [
          errorText,
          timedOut ? `Command timed out after ${options.timeoutMs / 1000} s and was ended` : '',
          signal && !timedOut ? `Command ended by signal ${signal}` : '',
          stdout.truncated || stderr.truncated ? `Output truncated at ${limit} bytes` : '',
        ].filter(Boolean);
        resolve({
          success: !timedOut && exitStatus === 0,
          output: pty ? output.replace(/\r\n/g, '\n') : output,
          error: reasons.join('\n'),
          exit_status: timedOut ? null : exitStatus,
          truncated: stdout.truncated || stderr.truncated,
          timed_out: timedOut,
        });
      });
    });
  }
}

class TimeoutError extends Error {}

/** Rejects with TimeoutError when `promise` takes longer than `ms`; a late channel is closed, not leaked. */
function withTimeout<T extends { channel: { close(): void } }>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      reject(new TimeoutError());
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        if (expired) value.channel.close();
        else resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
