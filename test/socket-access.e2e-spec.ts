import { AddressInfo } from 'node:net';
import { io, Socket } from 'socket.io-client';
import { SocketAccessMonitor } from '../src/realtime/socket-access.monitor';
import { startTestApp, TestApp } from './helpers/test-app';
import { completedCalls } from './helpers/wait';

/**
 * A socket outlives the sign-in it was opened with: every re-check (TERMINAL_REAUTH_INTERVAL_MS) ends the sockets
 * of revoked tokens and disabled or deleted users, and with them their task subscriptions and service statuses.
 */

const REAUTH_MS = 200;

interface Recorded {
  socket: Socket;
  events: Array<{ name: string; payload: unknown }>;
  next(name: string, from?: number): Promise<unknown>;
}

describe('revocation reaches every socket subscription', () => {
  let t: TestApp;
  let url: string;
  let taskId: number;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    t = await startTestApp({ TERMINAL_REAUTH_INTERVAL_MS: String(REAUTH_MS) });
    await t.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    const serverId = (await t.http.post('/api/servers').send({ name: 'gpu', host_ip: '127.0.0.1', username: 'root' }).expect(201)).body.id;
    taskId = (await t.http.post('/api/tasks').send({ name: 'watched', command: 'true', server_id: serverId, schedule_type: 'daily' }).expect(201))
      .body.id;
  });
  afterAll(async () => {
    sockets.forEach((socket) => socket.close());
    await t?.close();
  });

  async function connect(token: string): Promise<Recorded> {
    const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token } });
    sockets.push(socket);
    const events: Recorded['events'] = [];
    const waiters = new Set<() => void>();
    socket.onAny((name: string, payload: unknown) => {
      events.push({ name, payload });
      waiters.forEach((waiter) => waiter());
    });
    socket.on('disconnect', (reason) => {
      events.push({ name: 'disconnect', payload: reason });
      waiters.forEach((waiter) => waiter());
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    const next = (name: string, from = 0) =>
      new Promise<unknown>((resolve, reject) => {
        const check = () => {
          const found = events.slice(from).find((event) => event.name === name);
          if (!found) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found.payload);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${name} event; got ${JSON.stringify(events)}`));
        }, 5000);
        waiters.add(check);
        check();
      });
    return { socket, events, next };
  }

  async function viewer(name: string): Promise<{ id: number; token: string }> {
    const { id } = (
      await t.http
        .post('/api/users')
        .send({ username: name, password: `${name}-password`, role: 'viewer' })
        .expect(201)
    ).body;
    return { id, token: await t.login(name, `${name}-password`) };
  }

  async function subscribed(client: Recorded): Promise<void> {
    client.socket.emit('task_subscribe', { task_id: taskId });
    expect(await client.next('task_subscribed')).toEqual({ task_id: taskId });
  }

  it('answers task_subscribe to an unknown task with task_error', async () => {
    const client = await connect(t.adminToken);
    client.socket.emit('task_subscribe', { task_id: 987654 });
    expect(await client.next('task_error')).toEqual({ error: 'Task 987654 not found', task_id: 987654 });
    expect(client.events.map((event) => event.name)).toEqual(['task_error']);
  });

  it("disconnects a disabled user's socket with session_ended, and keeps a valid one", async () => {
    const vera = await viewer('vera');
    const disabled = await connect(vera.token);
    const kept = await connect((await viewer('vince')).token);
    await subscribed(disabled);
    await subscribed(kept);
    await t.http.put(`/api/users/${vera.id}`).send({ disabled: true }).expect(200);
    expect(await disabled.next('session_ended')).toEqual({ reason: expect.stringMatching(/revoked|disabled/) });
    expect(await disabled.next('disconnect')).toBe('io server disconnect');
    // Three more re-checks: the valid socket stays.
    await completedCalls(t.app.get(SocketAccessMonitor), 'recheck', 3);
    expect(kept.socket.connected).toBe(true);
    expect(kept.events.map((event) => event.name)).toEqual(['task_subscribed']);
  });

  it('disconnects the socket of a revoked API token and of a deleted user, and of a signed-out session', async () => {
    const { token, id } = (await t.http.post('/api/auth/tokens').send({ name: 'dashboard', role: 'viewer' }).expect(201)).body;
    const byToken = await connect(token);
    const wanda = await viewer('wanda');
    const deleted = await connect(wanda.token);
    const session = await t.login('admin', 'admin-test-password');
    const signedOut = await connect(session);
    await t.http.delete(`/api/auth/tokens/${id}`).expect(200);
    await t.http.delete(`/api/users/${wanda.id}`).expect(200);
    await t.anonymous.post('/api/auth/logout').set('Authorization', `Bearer ${session}`).expect(200);
    for (const client of [byToken, deleted, signedOut]) {
      await client.next('session_ended');
      await client.next('disconnect');
    }
  });
});
