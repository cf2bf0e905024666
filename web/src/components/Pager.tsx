import { useCallback, useState } from "react";
import { useTranslation } from "react-i18next";

/**
 * Cursor paging (the API's pages carry `next_cursor`; null or absent at the end).
 *
 *   const pager = useCursorPager();
 *   // fetch with searchParams: { cursor: pager.cursor, limit: 20 }, re-run when pager.cursor changes
 *   <Pager pager={pager} nextCursor={page?.next_cursor} />
 *
 * Call pager.reset() when the filters change.
 */
export interface CursorPager {
  /** The cursor of the page to show (undefined: the first page). */
  cursor: string | undefined;
  /** 1-based. */
  pageNumber: number;
  next(nextCursor: string): void;
  previous(): void;
  reset(): void;
}

export function useCursorPager(): CursorPager {
  const [stack, setStack] = useState<string[]>([]);
  const next = useCallback((c: string) => setStack((s) => [...s, c]), []);
  const previous = useCallback(() => setStack((s) => s.slice(0, -1)), []);
  const reset = useCallback(() => setStack([]), []);
  return { cursor: stack[stack.length - 1], pageNumber: stack.length + 1, next, previous, reset };
}

export function Pager({
  pager,
  nextCursor,
  label,
}: {
  pager: CursorPager;
  nextCursor: string | null | undefined;
  label?: string;
}) {
  const { t } = useTranslation();
  const hasPrevious = pager.pageNumber > 1;
  if (!hasPrevious && !nextCursor) return null;
  return (
    <nav className="pager" aria-label={label ?? t("page", { n: pager.pageNumber })}>
      <button type="button" onClick={pager.reset} disabled={!hasPrevious}>
        {t("buttons.first")}
      </button>
      <button type="button" onClick={pager.previous} disabled={!hasPrevious}>
        <span aria-hidden="true">← </span>
        {t("buttons.previous")}
      </button>
      <span aria-current="page">{t("page", { n: pager.pageNumber })}</span>
      <button type="button" onClick={() => nextCursor && pager.next(nextCursor)} disabled={!nextCursor}>
        {t("buttons.next")}
        <span aria-hidden="true"> →</span>
      </button>
    </nav>
  );
}
