// The HTML of a report: one self-contained file — CSS inline, figures inline as SVG, no script, nothing
// fetched — that reads the same in a browser, printed, or saved as a single file.

/** Escapes text for HTML content and attribute values. */
export function esc(s: unknown): string {
  return String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** A slug for an element id ("cifar10-lt/ce-rho100" → "cifar10-lt-ce-rho100"). */
export function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '') || 'x';
}

let figureCount = 0;

/**
 * An inline SVG figure. Vega names clip paths and gradients by ids that could repeat across separately
 * rendered charts, so every id (and each reference to it) gets a prefix unique to the figure.
 */
export function figure(svg: string, caption: string, cls = 'chart'): string {
  const p = `f${++figureCount}-`;
  const body = svg
    .replace(/<\?xml[^>]*>\s*/, '')
    .replace(/\bid="([^"]+)"/g, `id="${p}$1"`)
    .replace(/url\(#([^)]+)\)/g, `url(#${p}$1)`)
    .replace(/href="#([^"]+)"/g, `href="#${p}$1"`);
  return `<figure class="${cls}">${body}<figcaption>${esc(caption)}</figcaption></figure>`;
}

export interface HtmlTable {
  /** Header rows: each cell text, and how many columns it spans. */
  head: { text: string; span?: number }[][];
  rows: { cells: string[]; title?: string[] }[];
  caption?: string;
  cls?: string;
}

const NUMERIC = /^(—|[-+]?\d[\d.]*( ± [\d.]+)?%?( \(epoch \d+\))?|\d+\/\d+)?$/;

/** A table; cells are text (escaped), the first column a row header. */
export function table(t: HtmlTable): string {
  const head = t.head
    .map(
      (r) =>
        '<tr>' +
        r.map((c) => `<th${c.span && c.span > 1 ? ` colspan="${c.span}"` : ''}>${esc(c.text)}</th>`).join('') +
        '</tr>',
    )
    .join('');
  const body = t.rows
    .map(
      (r) =>
        '<tr>' +
        r.cells
          .map((c, j) => {
            const title = r.title?.[j] ? ` title="${esc(r.title[j])}"` : '';
            if (j === 0) return `<th scope="row"${title}>${esc(c)}</th>`;
            // Numbers line up on the right; words read from the left.
            return `<td${NUMERIC.test(c) ? '' : ' class="text"'}${title}>${esc(c)}</td>`;
          })
          .join('') +
        '</tr>',
    )
    .join('\n');
  const caption = t.caption ? `<caption>${esc(t.caption)}</caption>` : '';
  return `<table class="${t.cls ?? 'data'}">${caption}<thead>${head}</thead><tbody>\n${body}\n</tbody></table>`;
}

/** A definition list of label → value. */
export function facts(items: [string, unknown][]): string {
  return '<dl class="facts">' + items.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('') + '</dl>';
}

const CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1280px;
  padding: 16px 24px 48px; color: #1d1d1f; background: #fff; }
h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; margin: 18px 0 6px; }
p.note, .meta { color: #555; font-size: 12.5px; }
nav ul { columns: 3 240px; font-size: 13px; padding-left: 18px; }
table.data { border-collapse: collapse; margin: 8px 0 16px; font-variant-numeric: tabular-nums; font-size: 13px; }
table.data th, table.data td { border: 1px solid #d0d0d0; padding: 3px 8px; }
table.data td { text-align: right; white-space: nowrap; }
table.data td.text { text-align: left; white-space: normal; }
table.data thead th { background: #f3f3f6; }
table.data tbody th { text-align: left; font-weight: 600; background: #fafafa; }
table.data caption { caption-side: top; text-align: left; font-weight: 600; padding: 4px 0; white-space: nowrap; }
.scroll { overflow-x: auto; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; margin: 6px 0 12px; }
dl.facts dt { color: #555; } dl.facts dd { margin: 0; }
.figures { display: flex; flex-wrap: wrap; gap: 12px 20px; align-items: flex-start; }
figure.chart { margin: 0; } figure.chart svg { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 12px; color: #555; margin-top: 2px; max-width: 640px; }
section.run { border-top: 2px solid #e4e4ea; margin-top: 32px; }
.warn { color: #8a4b00; }
@media print { section.run { break-before: page; } }
`;

/** The whole document. */
export function page(title: string, body: string): string {
  return (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    `<title>${esc(title)}</title>\n<style>${CSS}</style>\n</head>\n<body>\n${body}\n</body>\n</html>\n`
  );
}
