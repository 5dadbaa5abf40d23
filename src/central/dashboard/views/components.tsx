/** @jsxImportSource hono/jsx */
// The dashboard's shared building blocks: one table, one form-error box, one labelled field, one
// search form and one post form. Pages compose these instead of repeating their markup, so ids,
// labels, the CSRF field and escaping are the same everywhere (hono/jsx escapes every child).
import type { Child, FC, PropsWithChildren } from 'hono/jsx';
import { Csrf, Options, Time } from './layout.js';

/** A column of a {@link DataTable}: its header (also the cell's `data-label` on phones) and cell. */
export type Column<T> = {
  label: string;
  /** The cells' class; a `num` class right-aligns the header too. */
  class?: string;
} & (
  | { cell: (row: T, index: number) => Child }
  /** A time column: UTC text in a `<time>`, kept on one line. */
  | { time: (row: T) => number | null | undefined }
);

function cellOf<T>(c: Column<T>, row: T, index: number): Child {
  return 'time' in c ? <Time ms={c.time(row)} /> : c.cell(row, index);
}

/**
 * A responsive table (stacked rows on phones, `data-label` naming each cell) with an optional
 * message when there are no rows. Named by `label` (aria-label) or by the heading `labelledBy`.
 */
export function DataTable<T>(props: {
  rows: readonly T[];
  columns: ReadonlyArray<Column<T>>;
  label?: string;
  labelledBy?: string;
  empty?: string;
}) {
  const { rows, columns, label, labelledBy, empty } = props;
  return (
    <div class="table-wrap">
      <table class="responsive" aria-label={label} aria-labelledby={labelledBy}>
        <thead>
          <tr>
            {columns.map((c) => (
              <th scope="col" class={c.class?.split(' ').includes('num') ? 'num' : undefined}>
                {c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr>
              {columns.map((c) => (
                <td data-label={c.label} class={'time' in c ? 'nowrap' : c.class}>
                  {cellOf(c, r, i)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {empty !== undefined && rows.length === 0 ? <p class="muted panel">{empty}</p> : null}
    </div>
  );
}

/** The refusal of a submitted form (an ApiError's message), above the form it belongs to. */
export const FormError: FC<{ error?: string | undefined }> = ({ error }) =>
  error ? (
    <div class="flash bad" role="alert">
      {error}
    </div>
  ) : null;

/** A labelled form control: `id` is the control's id, which the label points at. */
export const Field: FC<PropsWithChildren<{ id: string; label: Child }>> = ({ id, label, children }) => (
  <div class="field">
    <label for={id}>{label}</label>
    {children}
  </div>
);

/** A GET search form in a `<search>` landmark, its fields inline, with one submit button. */
export const SearchForm: FC<PropsWithChildren<{ label: string; action: string; submit?: string }>> = ({
  label,
  action,
  submit = 'Search',
  children,
}) => (
  <search aria-label={label}>
    <form method="get" action={action} class="inline panel">
      {children}
      <button type="submit">{submit}</button>
    </form>
  </search>
);

/** A POST form carrying the session's CSRF field and `hidden` fields, around its controls. */
export const PostForm: FC<
  PropsWithChildren<{ action: string; csrf: string; class?: string; hidden?: Record<string, string> }>
> = ({ action, csrf, class: className, hidden = {}, children }) => (
  <form method="post" action={action} class={className}>
    <Csrf token={csrf} />
    {Object.entries(hidden).map(([name, value]) => (
      <input type="hidden" name={name} value={value} />
    ))}
    {children}
  </form>
);

/**
 * A one-button POST form (replay, revoke, complete…). `hiddenLabel` is read out after the visible
 * text by screen readers, naming what the button acts on in a table of many.
 */
export const PostButton: FC<
  PropsWithChildren<{
    action: string;
    csrf: string;
    class?: string;
    formClass?: string;
    hidden?: Record<string, string>;
    hiddenLabel?: string;
  }>
> = ({ action, csrf, class: className, formClass, hidden, hiddenLabel, children }) => (
  <PostForm action={action} csrf={csrf} class={formClass} hidden={hidden}>
    <button type="submit" class={className}>
      {children}
      {hiddenLabel ? <span class="visually-hidden"> {hiddenLabel}</span> : null}
    </button>
  </PostForm>
);

/**
 * A labelled `<select>` of `values` (led by an "any …" choice when `any` is given). Its `name` is
 * the id's last dash-separated part unless given (`n-region` → `region`).
 */
export const SelectField: FC<{
  id: string;
  name?: string;
  label: Child;
  values: readonly string[];
  /** The text of each value's option (default: the value itself). */
  texts?: Readonly<Record<string, string>>;
  selected: string;
  any?: string;
  required?: boolean;
}> = ({ id, name = id.slice(id.lastIndexOf('-') + 1), label, values, texts, selected, any, required }) => (
  <Field id={id} label={label}>
    <select id={id} name={name} required={required}>
      <Options values={values} texts={texts} selected={selected} any={any} />
    </select>
  </Field>
);

/** A titled section (a panel unless `class` says otherwise; `""`: none), named by its heading. */
export const Panel: FC<PropsWithChildren<{ id: string; title: Child; class?: string }>> = ({
  id,
  title,
  class: className = 'panel',
  children,
}) => (
  <section class={className || undefined} aria-labelledby={id}>
    <h2 id={id}>{title}</h2>
    {children}
  </section>
);

/** A labelled `<input>`: every other attribute is the input's, in the order given. */
export const InputField: FC<{ id: string; label: Child; [attribute: string]: unknown }> = ({
  id,
  label,
  ...attributes
}) => (
  <Field id={id} label={label}>
    <input id={id} {...attributes} />
  </Field>
);

/** A search form's filter on `name`: labelled "Name", its values led by "any name". */
export const FilterSelect: FC<{ id: string; name: string; values: readonly string[]; selected: string }> = ({
  id,
  name,
  values,
  selected,
}) => (
  <SelectField
    id={id}
    name={name}
    label={`${name.charAt(0).toUpperCase()}${name.slice(1)}`}
    values={values}
    selected={selected}
    any={`any ${name}`}
  />
);

/** The deployment filter of a search form, shown only when the session sees several deployments. */
export const DeploymentFilter: FC<{ id: string; ids: readonly string[]; selected: string }> = ({
  id,
  ids,
  selected,
}) => (ids.length > 1 ? <FilterSelect id={id} name="deployment" values={ids} selected={selected} /> : null);

/** A stacked POST form: its refusal above it, its fields, then one submit button. */
export const StackForm: FC<
  PropsWithChildren<{ action: string; csrf: string; submit: Child; error?: string | undefined }>
> = ({ action, csrf, submit, error, children }) => (
  <>
    <FormError error={error} />
    <PostForm action={action} csrf={csrf} class="stack">
      {children}
      <div>
        <button type="submit">{submit}</button>
      </div>
    </PostForm>
  </>
);

/** A collapsed "add" panel titled by `summary`, open when its form has something to show. */
export const AddPanel: FC<PropsWithChildren<{ summary: Child; open: boolean }>> = ({
  summary,
  open,
  children,
}) => (
  <details class="add panel" open={open}>
    <summary>{summary}</summary>
    {children}
  </details>
);
