/**
 * The logic of the account screens, kept apart from React so it is unit-tested: the API's password
 * rules (checked again, and more strictly, by the server), the e-mailed token read once from the
 * address and then dropped from it, and the one-time calls that must not run twice for one token.
 */
import { ProblemError } from "../../api/problem";

/** The API's limits (RegisterRequest.password, PasswordResetConfirm.new_password). */
export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 128;

export type PasswordIssue = "tooShort" | "tooLong" | "containsEmail" | "containsName" | "mismatch";

/**
 * What is wrong with a new password before it is sent (empty: nothing the browser can tell).
 * The server also refuses easily guessed passwords (zxcvbn) and says why in its problem detail.
 * Counts code points, as the server does (a Devanagari letter is one character, an emoji too).
 */
export function passwordIssues(
  password: string,
  { email = "", name = "", confirm }: { email?: string; name?: string; confirm?: string } = {},
): PasswordIssue[] {
  const issues: PasswordIssue[] = [];
  const length = [...password].length;
  if (length < PASSWORD_MIN) issues.push("tooShort");
  if (length > PASSWORD_MAX) issues.push("tooLong");
  const lower = password.toLowerCase();
  const local = email.trim().toLowerCase().split("@")[0] ?? "";
  if (local.length >= 4 && lower.includes(local)) issues.push("containsEmail");
  const trimmedName = name.trim().toLowerCase();
  if (trimmedName.length >= 4 && lower.includes(trimmedName)) issues.push("containsName");
  if (confirm !== undefined && confirm !== password) issues.push("mismatch");
  return issues;
}

/** The API's token bounds (verify-email and password-reset: 10..200; unsubscribe: up to 1000). */
export function plausibleToken(token: string | null | undefined, max = 200, min = 10): token is string {
  return typeof token === "string" && token.length >= min && token.length <= max && /^[\x21-\x7e]+$/.test(token);
}

/**
 * The address without its `token` parameter (the rest of the query and the hash kept), so the
 * token does not linger in the address bar, the history or a bookmark once the page has read it.
 */
export function withoutToken(pathname: string, search: string, hash = ""): string {
  const params = new URLSearchParams(search);
  params.delete("token");
  const rest = params.toString();
  return `${pathname}${rest ? `?${rest}` : ""}${hash}`;
}

/**
 * Runs `call` once per key and shares its promise: a verification link is single-use, so a second
 * render (React's StrictMode runs effects twice in development) must not spend the token again.
 */
export function once<T>(cache: Map<string, Promise<T>>, key: string, call: () => Promise<T>): Promise<T> {
  let found = cache.get(key);
  if (!found) {
    found = call();
    cache.set(key, found);
    // A failure may be retried (a network error); a success stays.
    found.catch(() => cache.delete(key));
  }
  return found;
}

/** The issues that stop a submit (the others are advice: the server judges guessability itself). */
export function blockingIssues(issues: PasswordIssue[]): PasswordIssue[] {
  return issues.filter((i) => i === "tooShort" || i === "tooLong" || i === "mismatch");
}

/** Whether trying the same call again may help: a network failure, a timeout or a server error, not a refused link. */
export function retryable(error: unknown): boolean {
  if (!(error instanceof ProblemError)) return true;
  return error.status === 0 || error.status === 429 || error.status >= 500;
}
