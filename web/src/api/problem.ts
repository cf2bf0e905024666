import { HTTPError, TimeoutError } from "ky";
import type { components } from "./schema";

export type Problem = components["schemas"]["Problem"];
export type FieldError = components["schemas"]["FieldError"];

/**
 * Every failed API call rejects with a ProblemError: the RFC 9457 problem the server sent
 * (status, title, detail, per-field errors), or one made up by the client for a network failure or a
 * timeout (status 0, `clientMade`, no `detail`: the screen shows its own translated sentence).
 */
export class ProblemError extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  readonly type: string;
  readonly errors: FieldError[];
  /** The whole problem body, for extra members (`error`, `reason`...). */
  readonly problem: Record<string, unknown>;
  /** True when no server answered (network failure, timeout, abort): `detail` is then never set. */
  readonly clientMade: boolean;

  constructor(problem: Partial<Problem> & { errors?: FieldError[] } & Record<string, unknown>, options?: { cause?: unknown }) {
    const status = typeof problem.status === "number" ? problem.status : 0;
    const title = problem.title ?? (status ? `HTTP ${status}` : "Network error");
    super(problem.detail ?? title, options);
    this.name = "ProblemError";
    this.status = status;
    this.title = title;
    this.detail = problem.detail;
    this.type = problem.type ?? "about:blank";
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.problem = problem;
    this.clientMade = status === 0;
  }

  /** The message for one field (`title`, `attributes.depth`), if the server named it. */
  fieldError(field: string): string | undefined {
    return this.errors.find((e) => e.field === field)?.message;
  }
}

/** Turns whatever a call threw into a ProblemError (reading the problem+json body when there is one). */
export async function toProblemError(error: unknown): Promise<ProblemError> {
  if (error instanceof ProblemError) return error;
  if (error instanceof HTTPError) {
    const response = error.response;
    let body: Record<string, unknown> = {};
    try {
      const type = response.headers.get("content-type") ?? "";
      if (type.includes("json")) body = (await response.clone().json()) as Record<string, unknown>;
    } catch {
      // not JSON after all
    }
    return new ProblemError({ ...body, status: response.status, title: (body.title as string | undefined) ?? response.statusText });
  }
  if (error instanceof TimeoutError) {
    return new ProblemError({ status: 0, title: "Timeout" }, { cause: error });
  }
  if (error instanceof DOMException && error.name === "AbortError") {
    return new ProblemError({ status: 0, title: "Aborted", type: "aborted" }, { cause: error });
  }
  // The browser's own words ("Failed to fetch") stay in `cause`, for the console, never on screen.
  return new ProblemError({ status: 0, title: "Network error" }, { cause: error });
}
