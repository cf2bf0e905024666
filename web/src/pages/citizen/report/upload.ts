/**
 * One photo's upload: POST /v1/media for a ticket, PUT the bytes to its signed URL with an
 * XMLHttpRequest (fetch cannot report upload progress), then poll GET /v1/media/{id} briefly.
 */
import { absolute, api, refreshAccessToken } from "../../../api/client";
import { ProblemError } from "../../../api/problem";
import { getAccessToken } from "../../../api/tokens";
import type { MediaState, UploadTicket } from "../../../api/types";
import type { PhotoType } from "./form";

export const UPLOAD_TIMEOUT_MS = 120_000;

/** The ticket's URL on this origin: the gateway names itself absolutely; the page's origin is the same gateway. */
export function sameOriginUrl(uploadUrl: string): string {
  const u = new URL(uploadUrl, globalThis.location?.href ?? "http://localhost/");
  return absolute(`${u.pathname}${u.search}`);
}

export async function requestTicket(type: PhotoType, size: number, signal?: AbortSignal): Promise<UploadTicket> {
  return api.post<UploadTicket>("/v1/media", { json: { content_type: type, size }, signal });
}

function problemOf(xhr: XMLHttpRequest): ProblemError {
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(xhr.responseText) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return new ProblemError({ ...body, status: xhr.status, title: (body.title as string | undefined) ?? xhr.statusText });
}

function putOnce(
  url: string,
  file: Blob,
  onProgress: (loaded: number, total: number) => void,
  signal?: AbortSignal,
): Promise<XMLHttpRequest> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.timeout = UPLOAD_TIMEOUT_MS;
    const token = getAccessToken();
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => resolve(xhr);
    xhr.onerror = () => reject(new ProblemError({ status: 0, title: "Network error" }));
    xhr.ontimeout = () => reject(new ProblemError({ status: 0, title: "Timeout" }));
    xhr.onabort = () => reject(new ProblemError({ status: 0, title: "Aborted", type: "aborted" }));
    signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(file);
  });
}

/** PUTs the bytes; on a 401 refreshes the access token once and tries again (the URL is single-use only once accepted). */
export async function putPhoto(
  uploadUrl: string,
  file: Blob,
  onProgress: (loaded: number, total: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  const url = sameOriginUrl(uploadUrl);
  let xhr = await putOnce(url, file, onProgress, signal);
  if (xhr.status === 401 && (await refreshAccessToken())) xhr = await putOnce(url, file, onProgress, signal);
  if (xhr.status < 200 || xhr.status >= 300) throw problemOf(xhr);
  onProgress(file.size, file.size);
}

export const SETTLED: ReadonlySet<MediaState["status"]> = new Set(["processed", "rejected", "failed", "expired", "deleted"]);

/** Polls the photo's state until it settles or `timeoutMs` passes; returns the last state seen. */
export async function pollMedia(
  id: string,
  onState: (s: MediaState) => void,
  { intervalMs = 1000, timeoutMs = 20_000, signal }: { intervalMs?: number; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<MediaState | null> {
  const until = Date.now() + timeoutMs;
  let last: MediaState | null = null;
  while (!signal?.aborted) {
    try {
      last = await api.get<MediaState>(`/v1/media/${id}`, { signal });
      onState(last);
      if (SETTLED.has(last.status)) return last;
    } catch (e) {
      if (signal?.aborted) break;
      if (e instanceof ProblemError && e.status >= 400 && e.status < 500) throw e;
    }
    if (Date.now() + intervalMs > until) break;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return last;
}
