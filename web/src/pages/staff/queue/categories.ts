import { useEffect, useState } from "react";
import { api } from "../../../api/client";
import type { Paged } from "../../../api/types";

/** A prepared reply (shown to staff and admins only; absent from older APIs). */
export interface CannedResponse {
  id: string;
  title: string;
  body: string;
}

/** What the console reads of a category; `canned_responses` may be missing. */
export interface StaffCategory {
  code: string;
  name: string;
  department: string;
  sla_hours?: number;
  canned_responses?: CannedResponse[] | null;
}

/** The category's canned responses, or none when the API sends none (or no such field). */
export function cannedResponsesOf(category: StaffCategory | undefined): CannedResponse[] {
  const list = category?.canned_responses;
  return Array.isArray(list) ? list.filter((c) => c && typeof c.body === "string" && typeof c.title === "string") : [];
}

/** GET /v1/categories once per mount (signed in: staff get canned responses). */
export function useStaffCategories(): { categories: StaffCategory[]; error: unknown; loaded: boolean } {
  const [categories, setCategories] = useState<StaffCategory[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [loaded, setLoaded] = useState(false);
  useEffect(() => {
    const controller = new AbortController();
    api
      .get<Paged<StaffCategory>>("/v1/categories", { signal: controller.signal })
      .then((page) => {
        setCategories(page.items);
        setLoaded(true);
      })
      .catch((e: unknown) => {
        if (controller.signal.aborted) return;
        setError(e);
        setLoaded(true);
      });
    return () => controller.abort();
  }, []);
  return { categories, error, loaded };
}
