import type { ClientChannel } from 'ssh2';

/** A channel open that did not settle within its deadline. */
export class OpenDeadlineExpired extends Error {}

/**
 * `opening` if it settles within `ms`, else a rejection with OpenDeadlineExpired. SSH cannot cancel a channel
 * open, so a channel the server grants afterwards goes to `release`: it is never leaked.
 */
export function openWithin<T extends { channel: ClientChannel }>(
  opening: Promise<T>,
  ms: number,
  release: (channel: ClientChannel) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      reject(new OpenDeadlineExpired());
    }, ms);
    opening.then(
      (opened) => {
        clearTimeout(timer);
        if (expired) release(opened.channel);
        else resolve(opened);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
