/* global document, location, fetch, URL, URLSearchParams */
'use strict';

// The sign-in page's script (src/ui/login-page): signs in through the API, which sets the session cookie, then goes on
// to `next`. Under the backend's Content-Security-Policy, so no inline script or style anywhere on the page.

const NEXT_TARGET_MAX_LENGTH = 2048;

/**
 * `next` when it names this origin or one the server allows (the meta tag), else `/`. The server refused anything else
 * before serving this page (src/ui/next-target.ts); checked again so that the page alone is no open redirect either.
 */
function nextTarget() {
  const raw = new URLSearchParams(location.search).get('next');
  // Browsers read `\` as `/` and drop tabs and newlines: `/\evil.example` would leave for another host.
  // eslint-disable-next-line no-control-regex -- control characters are what it refuses
  if (!raw || raw.length > NEXT_TARGET_MAX_LENGTH || /[\\\s\x00-\x1f\x7f]/.test(raw)) return '/';
  if (raw.startsWith('/')) return raw.startsWith('//') ? '/' : raw;
  let url;
  try {
    url = new URL(raw);
  } catch {
    return '/';
  }
  const allowed = document.querySelector('meta[name="allowed-next-origins"]').content.split(' ');
  const web = url.protocol === 'http:' || url.protocol === 'https:';
  return web && !url.username && !url.password && (url.origin === location.origin || allowed.includes(url.origin)) ? url.href : '/';
}

async function errorMessage(response) {
  const body = await response.json().catch(() => null);
  return body && typeof body.error === 'string' ? body.error : `${response.status} ${response.statusText}`;
}

function start() {
  const target = nextTarget();
  const form = document.getElementById('sign-in');
  const error = document.getElementById('error');
  const button = form.querySelector('button');
  const showError = (message) => {
    error.textContent = message;
    error.hidden = !message;
  };

  // The SameSite=Strict cookie does not come with a link followed from another site, so the server may have shown this
  // page to someone signed in; this page's own request carries it.
  fetch('/api/auth/me').then(
    (response) => response.ok && location.replace(target),
    () => undefined,
  );

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError('');
    button.disabled = true;
    try {
      const response = await fetch('/api/auth/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username: form.elements.username.value, password: form.elements.password.value }),
      });
      if (response.ok) return location.assign(target);
      showError(`登录失败 / Sign-in failed: ${await errorMessage(response)}`);
    } catch {
      showError('无法连接服务器 / Cannot reach the server');
    } finally {
      button.disabled = false;
    }
  });
}

start();
