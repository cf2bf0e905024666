/** Up to five photos, each uploaded as soon as it is chosen, with progress and processing state. */
import { useEffect, useId, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { ProblemError } from "../../../api/problem";
import { ProblemAlert } from "../../../components/ProblemAlert";
import { formatNumber } from "../../../i18n/format";
import { MAX_PHOTO_BYTES, MAX_PHOTOS, photoType } from "./form";
import { pollMedia, putPhoto, requestTicket } from "./upload";

export type PhotoPhase = "uploading" | "processing" | "ready" | "rejected" | "failed";

export interface Photo {
  key: string;
  name: string;
  preview: string | null;
  phase: PhotoPhase;
  loaded: number;
  total: number;
  mediaId?: string;
  reason?: string | null;
  error?: unknown;
}

/** The ids a report may name: uploaded and not refused. */
export function usableMediaIds(photos: Photo[]): string[] {
  return photos.filter((p) => p.mediaId && (p.phase === "processing" || p.phase === "ready")).map((p) => p.mediaId!);
}

export function photosBusy(photos: Photo[]): boolean {
  return photos.some((p) => p.phase === "uploading");
}

const ICONS: Record<PhotoPhase, string> = { uploading: "⇪", processing: "⏳", ready: "✔", rejected: "✖", failed: "⚠" };

export function PhotoPicker({ photos, onChange }: { photos: Photo[]; onChange: (update: (prev: Photo[]) => Photo[]) => void }) {
  const { t } = useTranslation(["report", "common"]);
  const inputId = useId();
  const inputRef = useRef<HTMLInputElement>(null);
  const [refusal, setRefusal] = useState<unknown>(null);
  const aborts = useRef(new Map<string, AbortController>());

  useEffect(() => {
    const running = aborts.current;
    return () => running.forEach((a) => a.abort());
  }, []);

  const patch = (key: string, p: Partial<Photo>) => onChange((prev) => prev.map((x) => (x.key === key ? { ...x, ...p } : x)));

  async function start(file: File) {
    const key = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const type = photoType(file);
    let preview: string | null = null;
    try {
      preview = URL.createObjectURL(file);
    } catch {
      // no preview (tests)
    }
    const photo: Photo = { key, name: file.name, preview, phase: "uploading", loaded: 0, total: file.size };
    if (!type || file.size > MAX_PHOTO_BYTES || file.size === 0) {
      onChange((prev) => [...prev, { ...photo, phase: "failed", error: t(type ? "photos.tooBig" : "photos.badType") }]);
      return;
    }
    onChange((prev) => [...prev, photo]);
    const abort = new AbortController();
    aborts.current.set(key, abort);
    try {
      const ticket = await requestTicket(type, file.size, abort.signal);
      patch(key, { mediaId: ticket.id });
      await putPhoto(ticket.upload_url, file, (loaded, total) => patch(key, { loaded, total }), abort.signal);
      patch(key, { phase: "processing", loaded: file.size });
      const state = await pollMedia(ticket.id, () => undefined, { signal: abort.signal });
      if (state?.status === "processed") patch(key, { phase: "ready" });
      else if (state && ["rejected", "failed", "expired", "deleted"].includes(state.status))
        patch(key, { phase: "rejected", reason: state.reason ?? null });
      // still pending after the brief poll: stays "processing" (a report may name it)
    } catch (e) {
      if (abort.signal.aborted) return;
      // 403: unverified e-mail or too many unnamed photos; the API's detail says which.
      if (e instanceof ProblemError && e.status === 403) {
        setRefusal(e);
        onChange((prev) => prev.filter((x) => x.key !== key));
        if (preview) URL.revokeObjectURL(preview);
      } else patch(key, { phase: "failed", error: e });
    } finally {
      aborts.current.delete(key);
    }
  }

  function choose(files: FileList | null) {
    setRefusal(null);
    if (!files) return;
    const room = MAX_PHOTOS - photos.length;
    Array.from(files)
      .slice(0, Math.max(0, room))
      .forEach((f) => void start(f));
    if (inputRef.current) inputRef.current.value = "";
  }

  function remove(p: Photo) {
    aborts.current.get(p.key)?.abort();
    if (p.preview) URL.revokeObjectURL(p.preview);
    onChange((prev) => prev.filter((x) => x.key !== p.key));
  }

  const full = photos.length >= MAX_PHOTOS;
  return (
    <fieldset className="report-photos">
      <legend>{t("photos.legend")}</legend>
      <p className="hint" id={`${inputId}-hint`}>
        {t("photos.hint", { max: MAX_PHOTOS })}
      </p>
      <label htmlFor={inputId} className="report-file-label">
        {t("photos.add")}
      </label>
      <input
        ref={inputRef}
        id={inputId}
        type="file"
        accept="image/jpeg,image/png,image/webp,image/heic,image/heif"
        capture="environment"
        multiple
        disabled={full}
        aria-describedby={`${inputId}-hint`}
        onChange={(e) => choose(e.target.files)}
      />
      {full && <p className="hint">{t("photos.full", { max: MAX_PHOTOS })}</p>}
      <ProblemAlert error={refusal} />
      {photos.length > 0 && (
        <ul className="report-photo-list">
          {photos.map((p) => {
            const percent = p.total > 0 ? Math.round((p.loaded / p.total) * 100) : 0;
            const progressId = `${inputId}-${p.key}`;
            return (
              <li key={p.key} className={`report-photo photo-${p.phase}`}>
                {p.preview && <img src={p.preview} alt={t("photos.preview", { name: p.name })} />}
                <div className="report-photo-body">
                  <span className="report-photo-name">{p.name}</span>
                  {(p.phase === "uploading" || p.phase === "processing" || p.phase === "ready") && (
                    <>
                      <label htmlFor={progressId}>
                        {t(p.phase === "uploading" ? "photos.progress" : "photos.uploaded", { name: p.name, percent: formatNumber(percent) })}
                      </label>
                      <progress id={progressId} max={100} value={percent}>
                        {percent}%
                      </progress>
                    </>
                  )}
                  <span className="report-photo-state" role="status">
                    <span aria-hidden="true">{ICONS[p.phase]} </span>
                    {t(`photos.state.${p.phase}`)}
                    {p.phase === "rejected" && p.reason ? `: ${p.reason}` : ""}
                    {p.phase === "failed" && typeof p.error === "string" ? `: ${p.error}` : ""}
                  </span>
                  {p.phase === "failed" && p.error instanceof ProblemError && <ProblemAlert error={p.error} />}
                </div>
                <button type="button" onClick={() => remove(p)}>
                  {t("photos.remove")}
                  <span className="visually-hidden"> {p.name}</span>
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </fieldset>
  );
}
