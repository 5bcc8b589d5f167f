/** What a caller may do, from least to most. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** `viewer` reads; `operator` also changes and runs things; `admin` also manages users and others' tokens. */
export function roleAllows(role: Role, required: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(required);
}

/** "an admin", "an operator", "a viewer": for messages that name a caller's role. */
export function roleWithArticle(role: Role): string {
  return `${/^[aeiou]/.test(role) ? 'an' : 'a'} ${role}`;
}
