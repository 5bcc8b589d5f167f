import { cacheControlFor, IMMUTABLE, REVALIDATE } from './cache-policy';

describe('cacheControlFor', () => {
  it.each(['assets/index-BxC3dE4f.js', 'assets/logo.png', 'js/app.3f9a1c2b.js', 'css/chunk-vendors.1a2b3c4d.css', 'img/logo.82b9c7a5.png'])(
    'keeps %s for good: its name changes with its content',
    (path) => {
      expect(cacheControlFor(path)).toBe(IMMUTABLE);
    },
  );

  it.each(['index.html', 'favicon.ico', 'config.js', 'js/app.js', 'sub/assets/x.js', 'release-2026.txt'])('revalidates %s', (path) => {
    expect(cacheControlFor(path)).toBe(REVALIDATE);
  });
});
