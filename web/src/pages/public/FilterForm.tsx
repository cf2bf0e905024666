/** The category and status filters shared by the map and the list; their values live in the URL query. */
import { useId } from "react";
import { useTranslation } from "react-i18next";
import type { CategorySpec } from "../../api/types";
import { isStatus, STATUSES, type Filters } from "./map/state";

export function FilterForm({
  filters,
  categories,
  onChange,
}: {
  filters: Filters;
  categories: CategorySpec[];
  onChange: (filters: Filters) => void;
}) {
  const { t } = useTranslation(["map", "common"]);
  const id = useId();
  const known = categories.some((c) => c.code === filters.category);
  return (
    <form className="public-filters" role="search" aria-label={t("filters.label")} onSubmit={(e) => e.preventDefault()}>
      <div className="public-filter">
        <label htmlFor={`${id}-category`}>{t("filters.category")}</label>
        <select
          id={`${id}-category`}
          value={filters.category ?? ""}
          onChange={(e) => onChange({ ...filters, category: e.target.value || null })}
        >
          <option value="">{t("filters.allCategories")}</option>
          {filters.category && !known && <option value={filters.category}>{filters.category}</option>}
          {categories.map((c) => (
            <option key={c.code} value={c.code}>
              {c.name}
            </option>
          ))}
        </select>
      </div>
      <div className="public-filter">
        <label htmlFor={`${id}-status`}>{t("filters.status")}</label>
        <select
          id={`${id}-status`}
          value={filters.status ?? ""}
          onChange={(e) => onChange({ ...filters, status: isStatus(e.target.value) ? e.target.value : null })}
        >
          <option value="">{t("filters.allStatuses")}</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {t(`status.${s}`, { ns: "common" })}
            </option>
          ))}
        </select>
      </div>
      {(filters.category || filters.status) && (
        <button type="button" onClick={() => onChange({ status: null, category: null })}>
          {t("buttons.clear", { ns: "common" })}
        </button>
      )}
    </form>
  );
}
