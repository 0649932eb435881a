/**
 * Inline SVG charts (no chart library): bars for counts, a line for latencies. The figure's caption and each
 * point's <title> carry the numbers for screen readers.
 */
import { h } from "./dom.ts";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 600;
const HEIGHT = 160;

export interface Point {
  /** Full label (in the point's tooltip). */
  label: string;
  /** Short label under the axis; default: the label. */
  tick?: string;
  value: number | null;
}

function svg(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function frame(title: string): SVGElement {
  return svg("svg", {
    viewBox: `-16 0 ${WIDTH + 32} ${HEIGHT + 20}`,
    role: "img",
    "aria-label": title,
    class: "chart",
  });
}

function ticks(chart: SVGElement, points: Point[], band: number): void {
  points.forEach((p, i) => {
    if (points.length <= 14 || i % Math.ceil(points.length / 10) === 0) {
      chart.append(svg("text", { x: i * band + band / 2, y: HEIGHT + 14, "text-anchor": "middle" }, p.tick ?? p.label));
    }
  });
}

function figure(caption: string, chart: SVGElement): HTMLElement {
  return h("figure", { class: "card" }, h("figcaption", null, caption), chart);
}

/** A bar per point. */
export function barChart(title: string, points: Point[], unit = ""): HTMLElement {
  const peak = Math.max(0, ...points.map((p) => p.value ?? 0));
  const max = Math.max(1, peak);
  const band = WIDTH / Math.max(1, points.length);
  const chart = frame(title);
  points.forEach((p, i) => {
    const bar = Math.round(((p.value ?? 0) / max) * HEIGHT);
    const rect = svg("rect", { x: i * band + band * 0.15, y: HEIGHT - bar, width: band * 0.7, height: bar });
    rect.append(svg("title", {}, `${p.label}: ${p.value ?? 0}${unit}`));
    chart.append(rect);
  });
  ticks(chart, points, band);
  return figure(peak > 0 ? `${title} (peak ${peak}${unit})` : `${title}: none yet`, chart);
}

/** A line through the points that have a value (gaps where they have none), with a dot on each. */
export function lineChart(title: string, points: Point[], unit = ""): HTMLElement {
  const values = points.map((p) => p.value).filter((v): v is number => v !== null);
  const peak = Math.max(0, ...values);
  const max = Math.max(1, peak);
  const band = WIDTH / Math.max(1, points.length);
  const chart = frame(title);
  let path = "";
  let open = false;
  points.forEach((p, i) => {
    if (p.value === null) {
      open = false;
      return;
    }
    const x = i * band + band / 2;
    const y = HEIGHT - (p.value / max) * HEIGHT;
    path += `${open ? "L" : "M"}${x.toFixed(1)} ${y.toFixed(1)} `;
    open = true;
    const dot = svg("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: 3 });
    dot.append(svg("title", {}, `${p.label}: ${p.value}${unit}`));
    chart.append(dot);
  });
  if (path) chart.prepend(svg("path", { d: path.trim() }));
  ticks(chart, points, band);
  return figure(values.length > 0 ? `${title} (peak ${peak}${unit})` : `${title}: none yet`, chart);
}
