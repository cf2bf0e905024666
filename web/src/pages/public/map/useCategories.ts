import { useEffect, useState } from "react";
import { api } from "../../../api/client";
import type { CategorySpec, Paged } from "../../../api/types";

/** The public catalogue (GET /v1/categories), once per mount; an empty list while loading or on failure. */
export function useCategories(): { categories: CategorySpec[]; error: unknown } {
  const [categories, setCategories] = useState<CategorySpec[]>([]);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const controller = new AbortController();
    api
      .get<Paged<CategorySpec>>("/v1/categories", { signal: controller.signal })
      .then((page) => setCategories(page.items))
      .catch((e: unknown) => {
        if (!controller.signal.aborted) setError(e);
      });
    return () => controller.abort();
  }, []);
  return { categories, error };
}
