/**
 * The console's HTML shell, rendered on the server with Hono's html templates (escaped by default): header,
 * navigation and the sign-in form paint at once; the bundled script (assets.gen.ts) renders each page into
 * #view from the public API. No inline script or style, so the page runs under a strict CSP.
 */
import { html } from "hono/html";

export interface ShellAssets {
  script: string;
  style: string;
}

const TENANT_PAGES = [
  ["run", "Run"],
  ["jobs", "Jobs"],
  ["pools", "Pools"],
  ["playground", "Playground"],
  ["usage", "Usage"],
] as const;
const OPERATOR_PAGES = [
  ["admin", "Admin"],
  ["monitoring", "Monitoring"],
] as const;

export function renderShell(assets: ShellAssets) {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>comfy-edge console</title>
<link rel="stylesheet" href="${assets.style}">
<link rel="icon" href="data:,">
<script defer src="${assets.script}"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="#/">comfy-edge <span>console</span></a>
  <nav id="nav" aria-label="Console pages" hidden>
    ${TENANT_PAGES.map(([id, label]) => html`<a href="#/${id}" data-mode="tenant">${label}</a>`)}
    ${OPERATOR_PAGES.map(([id, label]) => html`<a href="#/${id}" data-mode="operator">${label}</a>`)}
  </nav>
  <div id="who" class="who"></div>
</header>
<main id="main" tabindex="-1">
  <section id="signin-view" class="signin" aria-labelledby="signin-title">
    <h1 id="signin-title">Sign in</h1>
    <p>Paste an API key (<code>ce_sk_…</code>) to see your tenant's jobs, or the deployment's admin token for the
    operator view. It is kept in this tab's session storage only and sent to this gateway's API like any client's.</p>
    <form id="signin" class="card">
      <label for="key">API key or admin token</label>
      <input id="key" name="key" type="password" autocomplete="off" spellcheck="false" required>
      <button type="submit">Sign in</button>
      <p id="signin-error" class="error" role="alert"></p>
    </form>
    <noscript><p class="error">The console needs JavaScript; the API reference is at <a href="/docs">/docs</a>.</p></noscript>
  </section>
  <div id="view" hidden></div>
</main>
<div id="toast" class="toast" role="status" aria-live="polite"></div>
</body>
</html>`;
}
