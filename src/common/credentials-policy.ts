/** Rules for usernames and passwords, shared by the environment (ADMIN_*) and the users API. */
export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
export const USERNAME_RULE = 'username must be 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit';
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;
