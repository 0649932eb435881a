/** The console's entry: sign-in, navigation by the URL hash, one page at a time in #view. */
import { ApiFailure, call, loadSession, type Mode, type Session, saveSession } from "./api.ts";
import type { Page } from "./context.ts";
import { byId, errorBox, fill, h } from "./dom.ts";
import { adminPage } from "./pages/admin.ts";
import { jobPage } from "./pages/job.ts";
import { jobsPage } from "./pages/jobs.ts";
import { monitoringPage } from "./pages/monitoring.ts";
import { playgroundPage } from "./pages/playground.ts";
import { poolsPage } from "./pages/pools.ts";
import { runPage } from "./pages/run.ts";
import { usagePage } from "./pages/usage.ts";

const TENANT_PAGES: Record<string, Page> = {
  run: runPage,
  jobs: (ctx) => (ctx.params.length > 0 ? jobPage(ctx) : jobsPage(ctx)),
  pools: poolsPage,
  playground: playgroundPage,
  usage: usagePage,
};
const OPERATOR_PAGES: Record<string, Page> = { admin: adminPage, monitoring: monitoringPage };
const HOME: Record<Mode, string> = { tenant: "jobs", operator: "admin" };

/** The page on screen: its controller is aborted when the person navigates away. */
interface Screen {
  current: AbortController | null;
  /** True until the first page has rendered (the first page keeps the browser's own focus). */
  first: boolean;
}

/** Checks a token against the API: an API key answers GET /v1/me, the admin token the tenant list. */
async function signIn(token: string): Promise<Session> {
  if (token.startsWith("ce_sk_")) {
    const me = await call<{ key_id: string; tenant_id: string }>({ token, mode: "tenant", label: "" }, "/v1/me");
    return { token, mode: "tenant", label: `${me.data.tenant_id} · ${me.data.key_id}` };
  }
  await call({ token, mode: "operator", label: "" }, "/admin/v1/tenants");
  return { token, mode: "operator", label: "operator" };
}

function route(screen: Screen): void {
  screen.current?.abort();
  const session = loadSession();
  const signin = byId("signin-view");
  const view = byId("view");
  const nav = byId("nav");
  const who = byId("who");
  if (!session) {
    signin.hidden = false;
    view.hidden = true;
    nav.hidden = true;
    who.replaceChildren();
    byId<HTMLInputElement>("key").focus();
    return;
  }
  signin.hidden = true;
  view.hidden = false;
  nav.hidden = false;
  for (const a of nav.querySelectorAll<HTMLAnchorElement>("a[data-mode]")) a.hidden = a.dataset.mode !== session.mode;
  fill(
    who,
    h("span", { class: "muted" }, session.label),
    h(
      "button",
      {
        type: "button",
        class: "link",
        onclick: () => {
          saveSession(null);
          location.hash = "#/";
          route(screen);
        },
      },
      "Sign out",
    ),
  );
  const [path = "", search = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const [name = "", ...params] = path.split("/").filter(Boolean).map(decodeURIComponent);
  const pages = session.mode === "tenant" ? TENANT_PAGES : OPERATOR_PAGES;
  const page = pages[name];
  if (!page) {
    location.replace(`#/${HOME[session.mode]}`);
    return;
  }
  for (const a of nav.querySelectorAll<HTMLAnchorElement>("a")) {
    if (a.getAttribute("href") === `#/${name}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const controller = new AbortController();
  screen.current = controller;
  const root = h("div");
  view.replaceChildren(root);
  // Moving between pages puts the focus on the new page's heading (screen readers announce it), as soon as
  // the page has one; the first page keeps the browser's own focus.
  const announce = !screen.first;
  screen.first = false;
  let focused = false;
  const focusHeading = () => {
    const h1 = root.querySelector("h1");
    if (!announce || focused || !h1 || controller.signal.aborted) return;
    focused = true;
    h1.tabIndex = -1;
    h1.focus({ preventScroll: true });
  };
  queueMicrotask(focusHeading);
  const rendered = Promise.resolve(
    page({ session, params, query: new URLSearchParams(search), signal: controller.signal, root }),
  );
  void rendered.then(focusHeading, () => {});
  rendered.catch((err: unknown) => {
    if (controller.signal.aborted) return;
    if (err instanceof ApiFailure && err.status === 401) {
      saveSession(null);
      route(screen);
      return;
    }
    root.append(errorBox(err));
  });
}

function start(): void {
  const screen: Screen = { current: null, first: true };
  const form = byId<HTMLFormElement>("signin");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = byId<HTMLInputElement>("key");
    const error = byId("signin-error");
    error.textContent = "";
    const button = form.querySelector("button");
    if (button) button.disabled = true;
    signIn(input.value.trim())
      .then((session) => {
        saveSession(session);
        input.value = "";
        if (!location.hash || location.hash === "#/") location.hash = `#/${HOME[session.mode]}`;
        else route(screen);
      })
      .catch((err: unknown) => {
        error.textContent =
          err instanceof ApiFailure && err.status === 401
            ? "That key or token was not accepted."
            : err instanceof Error
              ? err.message
              : String(err);
      })
      .finally(() => {
        if (button) button.disabled = false;
      });
  });
  window.addEventListener("hashchange", () => route(screen));
  route(screen);
}

start();
