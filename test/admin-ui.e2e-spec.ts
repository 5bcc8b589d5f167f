import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, IncomingMessage, request as httpRequest, Server } from 'node:http';
import { AddressInfo, connect, Socket } from 'node:net';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserAvailable, launchBrowser } from './helpers/browser';
import { sshdAvailable, startSshd, TestSshd } from './helpers/sshd';
import { startTestApp, TEST_ADMIN, TestApp } from './helpers/test-app';

/**
 * The admin UI as people use it: a built SPA served from UI_DIR behind the sign-in page, driven in a real browser
 * (Debian's chromium through playwright-core) whose API calls and SSH terminal work on the session cookie alone, also
 * from a dev server on another port. Over plain HTTP first, what an attacker would try against the pages: open
 * redirects, markup through `next`, paths out of UI_DIR, a sign-in forged from another site.
 */

const UI_DIR = join(__dirname, 'fixtures/admin-ui');
const INDEX_HTML = readFileSync(join(UI_DIR, 'index.html'), 'utf8');
const HASHED_ASSET = '/assets/app-3f9a1c2b.js';
const SCREENSHOT = join(__dirname, '..', 'test-artifacts', 'login-page.png');
const EVIL = 'http://evil.example';
/** In the default CORS_ORIGINS: the admin UI's dev server. */
const DEV_SERVER = 'http://localhost:8080';
/** What browsers send when following a link or typing an address. */
const NAVIGATION = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const SERVER_NAME = 'gpu-node-1';

async function listen(t: TestApp): Promise<number> {
  await t.app.listen(0, '127.0.0.1');
  return (t.app.getHttpServer().address() as AddressInfo).port;
}

describe('the admin UI and the sign-in page over HTTP', () => {
  let t: TestApp;
  let cookie: string;

  beforeAll(async () => {
    t = await startTestApp({ UI_DIR });
    cookie = `infini_token=${await t.login(TEST_ADMIN.username, TEST_ADMIN.password)}`;
  });

  afterAll(() => t.close());

  it('serves index.html for every page of the SPA, always revalidated, and hashed files for good', async () => {
    for (const page of ['/', '/index.html', '/servers/3', '/deep/page?tab=gpu']) {
      const response = await t.anonymous.get(page).set('Accept', NAVIGATION).set('Cookie', cookie).expect(200);
      expect(response.text).toBe(INDEX_HTML);
      expect(response.headers['cache-control']).toBe('no-cache');
    }
    const asset = await t.anonymous.get(HASHED_ASSET).expect(200);
    expect(asset.headers['content-type']).toMatch(/javascript/);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    // A missing script is missing, not the page: its load fails instead of running HTML.
    expect((await t.anonymous.get('/assets/app-00000000.js').set('Cookie', cookie).expect(404)).body.error).toMatch(/Cannot GET/);
  });

  it('sends a page asked for without a session to the sign-in page, with where it was going; files need no session', async () => {
    const page = await t.anonymous.get('/servers?tab=gpu').set('Accept', NAVIGATION).expect(302);
    expect(page.headers.location).toBe('/login?next=%2Fservers%3Ftab%3Dgpu');
    const expired = await t.anonymous.get('/').set('Accept', NAVIGATION).set('Cookie', 'infini_token=not-a-token').expect(302);
    expect(expired.headers.location).toBe('/login?next=%2F');
    await t.anonymous.get(HASHED_ASSET).set('Accept', '*/*').expect(200);
  });

  it('leaves the backend its own paths: API calls get JSON, 401 rather than a redirect, never the SPA', async () => {
    const unauthenticated = await t.anonymous.get('/api/servers').set('Accept', NAVIGATION).expect(401);
    expect(unauthenticated.headers.location).toBeUndefined();
    expect(unauthenticated.body.error).toMatch(/Authentication required/);
    for (const path of ['/api/no-such-route', '/API/no-such-route', '/v1/no-such-route', '/metrics/no-such-route']) {
      const response = await t.anonymous.get(path).set('Accept', NAVIGATION).set('Cookie', cookie);
      expect(response.headers['content-type']).toMatch(/application\/json/);
      expect(response.text).not.toContain('Fixture admin UI');
    }
    await t.anonymous.get('/api/login').expect(404);
  });

  it.each([
    ['another host', `${EVIL}/`],
    ['a protocol-relative URL', '//evil.example/'],
    ['a backslash browsers read as a slash', '/\\evil.example'],
    ['an encoded tab browsers drop', '/\t/evil.example'],
    ['a javascript: URL', 'javascript:alert(document.cookie)'],
    ['an allowed origin as a user name', `${DEV_SERVER}@evil.example/`],
    ['a huge target', `/${'a'.repeat(5000)}`],
  ])('refuses to send the browser on to %s after sign-in', async (_what, next) => {
    const query = `/login?next=${encodeURIComponent(next)}`;
    expect((await t.anonymous.get(query).expect(302)).headers.location).toBe('/login');
    // Signed in already: straight on, but home rather than there.
    expect((await t.anonymous.get(query).set('Cookie', cookie).expect(302)).headers.location).toBe('/');
  });

  it('sends someone signed in on to a page of its own or of CORS_ORIGINS', async () => {
    for (const next of ['/servers?tab=gpu', `${DEV_SERVER}/tasks`]) {
      const response = await t.anonymous
        .get(`/login?next=${encodeURIComponent(next)}`)
        .set('Cookie', cookie)
        .expect(302);
      expect(response.headers.location).toBe(next);
    }
  });

  it('never writes next into the page, and the page runs no inline script under the CSP', async () => {
    const plain = await t.anonymous.get('/login').expect(200);
    const markup = '/"><script>alert(1)</script>';
    const page = await t.anonymous.get(`/login?next=${encodeURIComponent(markup)}`).expect(200);
    expect(page.text).toBe(plain.text);
    expect(page.text).not.toContain('alert(1)');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.text).not.toMatch(/<script>|<style>|\son[a-z]+=/i);
    expect(page.text).toContain('<meta name="allowed-next-origins" content="http://localhost:8080 http://127.0.0.1:8080" />');
    for (const asset of ['/login/login.js', '/login/login.css']) await t.anonymous.get(asset).expect(200);
  });

  it('serves nothing outside UI_DIR and the sign-in page files', async () => {
    for (const path of [
      '/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd',
      '/assets/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd',
      '/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/assets/%2e%2e/%2e%2e/%2e%2e/package.json',
      '/login/..%2f..%2f..%2fpackage.json',
      '/login/login.html',
      '/login/sign-in.controller.ts',
    ]) {
      const file = await t.anonymous.get(path).set('Cookie', cookie);
      expect(file.status).toBe(404);
      expect(file.text).not.toMatch(/root:|"name": "infinistudio/);
      // A browser asking for the page gets the SPA's index.html, nothing else.
      const page = await t.anonymous.get(path).set('Cookie', cookie).set('Accept', NAVIGATION);
      expect(page.text).not.toMatch(/root:|"name": "infinistudio/);
    }
  });

  it('gives a sign-in forged by another site nothing: a form cannot send JSON, and /login takes no POST', async () => {
    const form = await t.anonymous
      .post('/api/auth/login')
      .set('Origin', EVIL)
      .type('form')
      .send({ username: TEST_ADMIN.username, password: TEST_ADMIN.password })
      .expect(415);
    expect(form.headers['set-cookie']).toBeUndefined();
    const plainText = await t.anonymous
      .post('/api/auth/login')
      .set('Origin', EVIL)
      .set('Content-Type', 'text/plain')
      .send(JSON.stringify(TEST_ADMIN))
      .expect(415);
    expect(plainText.headers['set-cookie']).toBeUndefined();
    // Refused before any route is looked up; /login answers GET only.
    const toThePage = await t.anonymous.post('/login').set('Origin', EVIL).type('form').send(TEST_ADMIN).expect(415);
    expect(toThePage.headers['set-cookie']).toBeUndefined();
  });

  it('signs out on GET /logout, but not for a link on another site', async () => {
    const token = await t.login(TEST_ADMIN.username, TEST_ADMIN.password);
    const crossSite = await t.anonymous.get('/logout').set('Cookie', `infini_token=${token}`).set('Sec-Fetch-Site', 'cross-site').expect(302);
    expect(crossSite.headers.location).toBe('/login');
    expect(crossSite.headers['set-cookie']).toBeUndefined();
    await t.anonymous.get('/api/auth/me').set('Authorization', `Bearer ${token}`).expect(200);

    const own = await t.anonymous
      .get('/logout?next=%2Ftasks')
      .set('Cookie', `infini_token=${token}`)
      .set('Sec-Fetch-Site', 'same-origin')
      .expect(302);
    expect(own.headers.location).toBe('/login?next=%2Ftasks');
    expect(own.headers['set-cookie']).toEqual([expect.stringMatching(/^infini_token=;.*Expires=Thu, 01 Jan 1970/)]);
    await t.anonymous.get('/api/auth/me').set('Authorization', `Bearer ${token}`).expect(401);
    // Nobody to sign out: only the way back.
    expect((await t.anonymous.get('/logout').expect(302)).headers.location).toBe('/login');
  });
});

describe('without UI_DIR', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(() => t.close());

  it('answers `/` as before, with the API 404, and still serves the sign-in page (for a dev server)', async () => {
    const root = await t.anonymous.get('/').set('Accept', NAVIGATION).expect(404);
    expect(root.body.error).toBe('Cannot GET /');
    const page = await t.anonymous.get(`/login?next=${encodeURIComponent(`${DEV_SERVER}/`)}`).expect(200);
    expect(page.text).toContain('用户名 / Username');
  });
});

describe('the sign-in page with AUTH_ENABLED=false', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ AUTH_ENABLED: 'false', UI_DIR });
  });

  afterAll(() => t.close());

  it('is skipped: pages are served at once and /login goes on to next, if it may', async () => {
    await t.anonymous.get('/servers').set('Accept', NAVIGATION).expect(200);
    expect((await t.anonymous.get('/login?next=%2Fservers').expect(302)).headers.location).toBe('/servers');
    expect((await t.anonymous.get(`/login?next=${encodeURIComponent(`${EVIL}/`)}`).expect(302)).headers.location).toBe('/');
  });
});

/**
 * A stand-in for the admin UI's dev server on :8080: it serves the UI's files itself and passes `/api` and `/socket.io`
 * (WebSocket upgrades included) on to the backend with the backend's Host, as a dev-server proxy with
 * `changeOrigin: true` does. Listens before the backend starts, whose CORS_ORIGINS must name it.
 */
class DevServer {
  private readonly server: Server;
  private readonly upgraded = new Set<Socket>();
  backendPort = 0;

  private constructor(private readonly uiDir: string) {
    this.server = createServer((request, response) => {
      if (DevServer.isProxied(request)) {
        const upstream = httpRequest(
          {
            host: '127.0.0.1',
            port: this.backendPort,
            method: request.method,
            path: request.url,
            headers: { ...request.headers, host: this.backendHost },
          },
          (answer) => {
            response.writeHead(answer.statusCode!, answer.headers);
            answer.pipe(response);
          },
        );
        upstream.on('error', () => response.destroy());
        request.pipe(upstream);
        return;
      }
      const asset = /^\/assets\/([\w.-]+)$/.exec(request.url ?? '');
      const file = asset && existsSync(join(this.uiDir, 'assets', asset[1])) ? join(this.uiDir, 'assets', asset[1]) : join(this.uiDir, 'index.html');
      response.writeHead(200, { 'Content-Type': file.endsWith('.js') ? 'text/javascript' : 'text/html' });
      response.end(readFileSync(file));
    });
    this.server.on('upgrade', (request: IncomingMessage, client: Socket, head: Buffer) => {
      const upstream = connect(this.backendPort, '127.0.0.1', () => {
        const headers: string[] = [];
        for (let i = 0; i < request.rawHeaders.length; i += 2) {
          const name = request.rawHeaders[i];
          headers.push(`${name}: ${name.toLowerCase() === 'host' ? this.backendHost : request.rawHeaders[i + 1]}`);
        }
        upstream.write(`${request.method} ${request.url} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`);
        upstream.write(head);
        client.pipe(upstream).pipe(client);
      });
      for (const socket of [client, upstream]) {
        this.upgraded.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => {
          this.upgraded.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
    });
  }

  static async start(uiDir: string): Promise<DevServer> {
    const devServer = new DevServer(uiDir);
    await new Promise<void>((resolve) => devServer.server.listen(0, '127.0.0.1', resolve));
    return devServer;
  }

  /** Under `localhost`, like the backend: the login cookie is per host, not per port. */
  get origin(): string {
    return `http://localhost:${(this.server.address() as AddressInfo).port}`;
  }

  private get backendHost(): string {
    return `localhost:${this.backendPort}`;
  }

  private static isProxied(request: IncomingMessage): boolean {
    return /^\/(api|socket\.io)(\/|$)/.test(request.url ?? '');
  }

  async close(): Promise<void> {
    for (const socket of this.upgraded) socket.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** The page's DOM, which tsconfig.json (no "dom" lib) does not describe: only what the waits read. */
interface PageGlobals {
  document: { getElementById(id: string): { textContent: string | null } | null };
}

/** Waits until the fixture's terminal shows `hello-from-terminal` as a line of its own: output, not the echoed command. */
async function terminalShowsHello(page: Page): Promise<void> {
  await page.waitForFunction(() =>
    /[\r\n]hello-from-terminal\r?\n/.test((globalThis as unknown as PageGlobals).document.getElementById('terminal')?.textContent ?? ''),
  );
}

const describeWithBrowser = browserAvailable ? describe : describe.skip;
/** For the terminal: a server row of a real sshd. */
const describeWithBrowserAndSshd = browserAvailable && sshdAvailable ? describe : describe.skip;

describeWithBrowserAndSshd('the admin UI in a browser', () => {
  let t: TestApp;
  let sshd: TestSshd;
  let devServer: DevServer;
  let browser: Browser;
  /** Under `localhost`, as a user types it, so the cookie it sets is also the dev server's. */
  let backend: string;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    [sshd, devServer, browser] = await Promise.all([startSshd(), DevServer.start(UI_DIR), launchBrowser()]);
    t = await startTestApp({
      UI_DIR,
      CORS_ORIGINS: devServer.origin,
      LOGIN_RATE_LIMIT_PER_USER_IP: '2',
      LOGIN_RATE_LIMIT_PER_IP: '100',
    });
    devServer.backendPort = await listen(t);
    backend = `http://localhost:${devServer.backendPort}`;
    await t.http
      .post('/api/servers')
      .send({ name: SERVER_NAME, host_ip: sshd.host, port: sshd.port, username: sshd.username, password: sshd.password })
      .expect(201);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await devServer?.close();
    await t?.close();
    await sshd?.stop();
  });

  beforeEach(async () => {
    context = await browser.newContext();
    page = await context.newPage();
  });

  afterEach(() => context.close());

  const signInButton = () => page.getByRole('button', { name: '登录 / Sign in' });

  async function signIn(username: string, password: string): Promise<void> {
    await page.getByLabel('用户名 / Username').fill(username);
    await page.getByLabel('密码 / Password').fill(password);
    await signInButton().click();
  }

  /** Signs in, and resolves with the server's answer once the page has it. */
  async function signInAnswer(username: string, password: string): Promise<{ status: number; error?: string }> {
    const [answer] = await Promise.all([page.waitForResponse((response) => response.url().endsWith('/api/auth/login')), signIn(username, password)]);
    return { status: answer.status(), ...((await answer.json()) as { error?: string }) };
  }

  async function sessionToken(): Promise<string | undefined> {
    return (await context.cookies(backend)).find((cookie) => cookie.name === 'infini_token')?.value;
  }

  /** The fixture SPA at work: the API's server list and a terminal that runs a command, all on the cookie. */
  async function expectWorkingUi(): Promise<void> {
    await page.locator('#servers').getByText(SERVER_NAME).waitFor();
    await page
      .locator('#terminal-status')
      .filter({ hasText: /^connected$/ })
      .waitFor();
    await page.getByLabel('Command').fill('echo hello-from-terminal');
    await page.getByLabel('Command').press('Enter');
    await terminalShowsHello(page);
  }

  it('shows the sign-in page to a visitor without a session, keeping where they were going', async () => {
    await page.goto(`${backend}/servers?tab=gpu`);
    const url = new URL(page.url());
    expect(url.pathname).toBe('/login');
    expect(url.searchParams.get('next')).toBe('/servers?tab=gpu');
    await signInButton().waitFor();
    expect(await page.title()).toBe('登录 / Sign in · InfiniStudio');
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  it('shows the server’s message for a wrong password and for too many failures, and stays', async () => {
    await page.goto(`${backend}/login`);
    const wrong = await signInAnswer(TEST_ADMIN.username, 'not-the-password');
    expect(wrong.status).toBe(401);
    await page.getByRole('alert').filter({ hasText: '登录失败 / Sign-in failed: Invalid username or password' }).waitFor();

    let answer = wrong;
    for (let attempt = 0; answer.status !== 429 && attempt < 5; attempt++) answer = await signInAnswer('intruder', 'guess');
    expect(answer.status).toBe(429);
    expect(answer.error).toMatch(/^Too many sign-in attempts/);
    await page
      .getByRole('alert')
      .filter({ hasText: `登录失败 / Sign-in failed: ${answer.error}` })
      .waitFor();
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(await sessionToken()).toBeUndefined();
  });

  it('signs in and goes on to the page asked for, whose API call and terminal work on the cookie alone', async () => {
    await page.goto(`${backend}/servers?tab=gpu`);
    await signIn(TEST_ADMIN.username, TEST_ADMIN.password);
    await page.waitForURL(`${backend}/servers?tab=gpu`);
    await expectWorkingUi();
  });

  it('signs out: the session ends and pages lead to the sign-in page again', async () => {
    await page.goto(`${backend}/`);
    await signIn(TEST_ADMIN.username, TEST_ADMIN.password);
    await page.locator('#servers').getByText(SERVER_NAME).waitFor();
    const token = await sessionToken();

    await page.getByRole('link', { name: 'Sign out' }).click();
    await page.waitForURL(`${backend}/login`);
    await signInButton().waitFor();
    expect(await sessionToken()).toBeUndefined();
    // Ended, not just forgotten by this browser.
    await t.anonymous.get('/api/auth/me').set('Authorization', `Bearer ${token}`).expect(401);
    await page.goto(`${backend}/`);
    expect(new URL(page.url()).pathname).toBe('/login');
  });

  it('returns to the sign-in page once the session has ended elsewhere', async () => {
    await page.goto(`${backend}/servers`);
    await signIn(TEST_ADMIN.username, TEST_ADMIN.password);
    await page.locator('#servers').getByText(SERVER_NAME).waitFor();
    await t.anonymous
      .post('/api/auth/logout')
      .set('Authorization', `Bearer ${await sessionToken()}`)
      .expect(200);

    await page.reload();
    expect(page.url()).toBe(`${backend}/login?next=%2Fservers`);
    await signInButton().waitFor();
  });

  it('works from a dev server on another port: sign in at the backend, land on the dev server, API and terminal work through it', async () => {
    await page.goto(`${backend}/login?next=${encodeURIComponent(`${devServer.origin}/`)}`);
    await signIn(TEST_ADMIN.username, TEST_ADMIN.password);
    await page.waitForURL(`${devServer.origin}/`);
    await expectWorkingUi();
  });
});

describeWithBrowser('the admin UI in a browser with AUTH_ENABLED=false', () => {
  let t: TestApp;
  let browser: Browser;
  let backend: string;

  beforeAll(async () => {
    browser = await launchBrowser();
    t = await startTestApp({ AUTH_ENABLED: 'false', UI_DIR });
    backend = `http://localhost:${await listen(t)}`;
    // Nothing listens on the discard port: the page's terminal fails, which this test does not look at.
    await t.http.post('/api/servers').send({ name: 'open-node', host_ip: '127.0.0.1', port: 9, username: 'nobody' }).expect(201);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('shows no sign-in: pages open at once, and the sign-in page goes on to next', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${backend}/servers`);
      await page.locator('#servers').getByText('open-node').waitFor();
      expect(page.url()).toBe(`${backend}/servers`);
      await page.goto(`${backend}/login?next=%2Ftasks`);
      expect(page.url()).toBe(`${backend}/tasks`);
    } finally {
      await page.close();
    }
  });
});
