// A table the trader can sort (click a heading) and filter (type in the box); below 700 px each
// row becomes a card of label/value pairs, so nothing is cut off on a phone.
import { type ReactNode, useMemo, useState } from "react";

export interface Column<T> {
  key: string;
  label: string;
  /** The value sorted and filtered on. */
  value: (row: T) => string | number | null;
  render?: (row: T) => ReactNode;
  numeric?: boolean;
}

interface Props<T> {
  rows: T[];
  columns: Column<T>[];
  rowKey: (row: T) => string;
  testId: string;
  empty: ReactNode;
  initialSort?: { key: string; desc: boolean };
  actions?: (row: T) => ReactNode;
  filterPlaceholder?: string;
}

export function DataTable<T>(props: Props<T>) {
  const [sort, setSort] = useState(props.initialSort ?? { key: props.columns[0]?.key ?? "", desc: false });
  const [filter, setFilter] = useState("");
  const shown = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    const column = props.columns.find((c) => c.key === sort.key);
    const rows = needle
      ? props.rows.filter((row) => props.columns.some((c) => String(c.value(row) ?? "").toLowerCase().includes(needle)))
      : props.rows.slice();
    if (column) {
      rows.sort((a, b) => {
        const x = column.value(a);
        const y = column.value(b);
        const order = x === null ? 1 : y === null ? -1 : typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
        return sort.desc ? -order : order;
      });
    }
    return rows;
  }, [props.rows, props.columns, filter, sort]);
  return (
    <div className="data-table" data-testid={props.testId}>
      {props.rows.length > 0 && (
        <input
          className="table-filter"
          type="search"
          placeholder={props.filterPlaceholder ?? "Filter…"}
          aria-label="Filter"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
          data-testid={`${props.testId}-filter`}
        />
      )}
      {props.rows.length === 0 ? (
        <p className="empty">{props.empty}</p>
      ) : (
        <table className="cards-on-phone">
          <thead>
            <tr>
              {props.columns.map((c) => (
                <th
                  key={c.key}
                  className={`sortable ${c.numeric ? "num" : ""}`}
                  aria-sort={sort.key === c.key ? (sort.desc ? "descending" : "ascending") : "none"}
                  onClick={() => setSort({ key: c.key, desc: sort.key === c.key ? !sort.desc : false })}
                  data-testid={`sort-${c.key}`}
                >
                  {c.label}
                  {sort.key === c.key ? (sort.desc ? " ▾" : " ▴") : ""}
                </th>
              ))}
              {props.actions && <th />}
            </tr>
          </thead>
          <tbody>
            {shown.map((row) => (
              <tr key={props.rowKey(row)} data-testid={`${props.testId}-row`}>
                {props.columns.map((c) => (
                  <td key={c.key} className={c.numeric ? "num" : ""} data-label={c.label}>
                    {c.render ? c.render(row) : (c.value(row) ?? "—")}
                  </td>
                ))}
                {props.actions && <td className="actions-cell">{props.actions(row)}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
