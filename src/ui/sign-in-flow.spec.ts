import { signInPageOutcome, signOutOutcome } from './sign-in-flow';

describe('signInPageOutcome', () => {
  it('shows the page to someone not signed in', () => {
    expect(signInPageOutcome({ signedIn: false, nextGiven: false, next: undefined })).toEqual({ page: true });
    expect(signInPageOutcome({ signedIn: false, nextGiven: true, next: '/servers' })).toEqual({ page: true });
  });

  it('drops a refused next by sending the browser to the plain sign-in page', () => {
    expect(signInPageOutcome({ signedIn: false, nextGiven: true, next: undefined })).toEqual({ redirect: '/login' });
  });

  it('sends someone signed in (anyone, with authentication off) on to next, or home', () => {
    expect(signInPageOutcome({ signedIn: true, nextGiven: true, next: 'http://localhost:8080/' })).toEqual({ redirect: 'http://localhost:8080/' });
    expect(signInPageOutcome({ signedIn: true, nextGiven: true, next: undefined })).toEqual({ redirect: '/' });
  });
});

describe('signOutOutcome', () => {
  it('ends the session and returns to the sign-in page, passing next on', () => {
    expect(signOutOutcome({ crossSite: false, next: '/tasks' })).toEqual({ endSession: true, redirect: '/login?next=%2Ftasks' });
  });

  it('leaves the session alone for a link on another site', () => {
    expect(signOutOutcome({ crossSite: true, next: undefined })).toEqual({ endSession: false, redirect: '/login' });
  });
});
