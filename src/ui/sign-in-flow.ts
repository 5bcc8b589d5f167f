import { signInLocation } from './next-target';

export type PageOutcome = { redirect: string } | { page: true };

/**
 * What `GET /login` answers. Someone already signed in (anyone, with authentication off) goes straight on; a `next` that
 * was given but refused is dropped by a redirect, so the page never carries a target its script would have to refuse.
 */
export function signInPageOutcome(state: { signedIn: boolean; nextGiven: boolean; next: string | undefined }): PageOutcome {
  if (state.signedIn) return { redirect: state.next ?? '/' };
  if (state.nextGiven && state.next === undefined) return { redirect: signInLocation(undefined) };
  return { page: true };
}

/**
 * What `GET /logout` does. A link on another site cannot sign anyone out: the SameSite=Strict cookie does not come with
 * it anyway, and the cookie is not cleared for it either.
 */
export function signOutOutcome(state: { crossSite: boolean; next: string | undefined }): { endSession: boolean; redirect: string } {
  return { endSession: !state.crossSite, redirect: signInLocation(state.next) };
}
