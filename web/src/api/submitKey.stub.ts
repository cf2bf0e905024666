/**
 * For tests: a `fetch` that keeps answers per Idempotency-Key the way the gateway does
 * (gateway/src/snapfix_gateway/idempotency.py): a POST answer below 500 is kept and replayed for the
 * same key and the same request (path, query, body); the same key with another request is 422.
 * A stub built on it cannot pass a form that keeps a key after a definite answer. A handler's 409
 * "still being processed" stands for the gateway's own answer to a concurrent retry: not kept.
 */
export interface GatewayStub {
  fetch: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  /** Every request the handler saw or the stub answered, in order (clones, readable). */
  calls: Request[];
  /** How many requests reached the handler (replays and refusals do not). */
  handled: () => number;
}

export function gatewayStub(handler: (request: Request) => Response | Promise<Response>): GatewayStub {
  const kept = new Map<string, { fp: string; status: number; headers: [string, string][]; body: string }>();
  const calls: Request[] = [];
  let handled = 0;
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init);
    calls.push(request.clone());
    const key = request.headers.get("idempotency-key");
    if (request.method !== "POST" || !key) {
      handled++;
      return handler(request);
    }
    const url = new URL(request.url);
    const fp = `${url.pathname}\n${url.search}\n${await request.clone().text()}`;
    const previous = kept.get(key);
    if (previous && previous.fp !== fp) {
      const body = { type: "about:blank", title: "Unprocessable Content", status: 422, detail: "This Idempotency-Key was used for a different request." };
      return new Response(JSON.stringify(body), { status: 422, headers: { "content-type": "application/problem+json" } });
    }
    if (previous) {
      return new Response(previous.status === 204 ? null : previous.body, {
        status: previous.status,
        headers: [...previous.headers, ["idempotent-replayed", "true"]],
      });
    }
    handled++;
    const response = await handler(request);
    const inProgress = response.status === 409 && /still being processed/.test(await response.clone().text());
    if (response.status < 500 && !inProgress) {
      const body = await response.clone().text();
      kept.set(key, { fp, status: response.status, headers: [...response.headers.entries()], body });
    }
    return response;
  };
  return { fetch, calls, handled: () => handled };
}
