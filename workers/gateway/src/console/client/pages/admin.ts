/**
 * Admin (operator view, admin token): tenants, their API keys (create: shown once; revoke), runner tokens
 * (create: shown once; revoke), pools and pool groups.
 */
import { call, type Session } from "../api.ts";
import type { PageContext } from "../context.ts";
import { errorBox, fill, h, page, toast, when } from "../dom.ts";
import { table } from "../table.ts";
import { poolGroupsSection } from "./admin-pool-groups.ts";

type Row = Record<string, unknown>;

/** A secret shown once, with a copy button. */
function secretBox(title: string, secret: string): HTMLElement {
  const field = h("input", { readonly: true, value: secret, class: "mono", "aria-label": title, id: "new-secret" });
  return h(
    "div",
    { class: "card secret", role: "alert" },
    h("strong", null, title),
    h("p", null, "Copy it now: it is shown only once."),
    h(
      "div",
      { class: "row" },
      field,
      h(
        "button",
        { type: "button", onclick: () => void navigator.clipboard?.writeText(secret).then(() => toast("Copied.")) },
        "Copy",
      ),
    ),
  );
}

function revokeButton(s: Session, path: string, label: string, done: () => void, revoked: unknown): Node {
  if (revoked) return h("span", { class: "badge canceled" }, `revoked ${when(String(revoked))}`);
  return h(
    "button",
    {
      type: "button",
      class: "danger small",
      "aria-label": `Revoke ${label}`,
      onclick: () => {
        if (!confirm(`Revoke ${label}? Clients using it stop working at once.`)) return;
        void call(s, path, { method: "DELETE" }).then(done, (err: unknown) => toast(String(err)));
      },
    },
    "Revoke",
  );
}

/** Rotates the tenant's webhook signing secret; the new one is shown once (the old one stays valid a while). */
function rotateWebhookSecret(s: Session, tenant: Row, out: HTMLElement): HTMLElement {
  const rotate = async () => {
    if (!confirm(`Rotate the webhook secret of ${tenant.name}?`)) return;
    try {
      const { data } = await call<{ webhook_secret: string; previous_secret_expires_at: string }>(
        s,
        `/admin/v1/tenants/${encodeURIComponent(String(tenant.id))}/webhook-secret/rotate`,
        { method: "POST" },
      );
      fill(
        out,
        secretBox(
          `New webhook secret (the previous one is accepted until ${when(data.previous_secret_expires_at)})`,
          data.webhook_secret,
        ),
      );
    } catch (err) {
      fill(out, errorBox(err));
    }
  };
  return h("p", null, h("button", { type: "button", onclick: () => void rotate() }, "Rotate webhook secret"));
}

function keysSection(s: Session, tenant: Row): HTMLElement {
  const box = h("div");
  const created = h("div");
  const name = h("input", { id: "key-name", placeholder: "e.g. ci" });
  const jobs = h("input", { id: "scope-jobs", type: "checkbox", checked: true });
  const llm = h("input", { id: "scope-llm", type: "checkbox", checked: true });
  const load = async () => {
    const { data } = await call<{ data: Row[] }>(
      s,
      `/admin/v1/keys?tenant_id=${encodeURIComponent(String(tenant.id))}`,
    );
    fill(
      box,
      table(
        data.data,
        [
          ["name", "Name"],
          ["prefix", "Prefix"],
          ["scopes", "Scopes"],
          ["created_at", "Created"],
          ["revoked_at", ""],
        ],
        {
          created_at: (r) => when(String(r.created_at)),
          scopes: (r) => (Array.isArray(r.scopes) ? r.scopes.join(", ") : ""),
          revoked_at: (r) =>
            revokeButton(
              s,
              `/admin/v1/keys/${encodeURIComponent(String(r.id))}`,
              `key ${r.prefix}`,
              load,
              r.revoked_at,
            ),
        },
        `API keys of ${tenant.name}`,
        false,
      ),
    );
  };
  const create = async (e: Event) => {
    e.preventDefault();
    const scopes = [jobs.checked ? "jobs" : null, llm.checked ? "llm" : null].filter(Boolean);
    try {
      const { data } = await call<Row>(s, "/admin/v1/keys", {
        body: { tenant_id: tenant.id, name: name.value || null, scopes },
      });
      fill(created, secretBox(`New API key ${data.prefix}`, String(data.key)));
      name.value = "";
      await load();
    } catch (err) {
      fill(created, errorBox(err));
    }
  };
  void load().catch((err: unknown) => box.append(errorBox(err)));
  return h(
    "section",
    { class: "card", "aria-labelledby": "keys-title" },
    h("h2", { id: "keys-title" }, `Keys of ${tenant.name}`),
    box,
    rotateWebhookSecret(s, tenant, created),
    h(
      "form",
      { class: "row wrap", onsubmit: (e: Event) => void create(e) },
      h("label", { for: "key-name" }, "Key name"),
      name,
      jobs,
      h("label", { for: "scope-jobs" }, "jobs"),
      llm,
      h("label", { for: "scope-llm" }, "llm"),
      h("button", { type: "submit", class: "primary" }, "Create key"),
    ),
    created,
  );
}

async function tenantsSection(ctx: PageContext, keys: HTMLElement): Promise<HTMLElement> {
  const s = ctx.session;
  const box = h("div");
  const name = h("input", { id: "tenant-name", required: true });
  const load = async () => {
    const { data } = await call<{ data: Row[] }>(s, "/admin/v1/tenants", { signal: ctx.signal });
    fill(
      box,
      table(
        data.data,
        [
          ["name", "Tenant"],
          ["id", "Id"],
          ["default_pool", "Default pool"],
          ["created_at", "Created"],
        ],
        {
          name: (r) =>
            h(
              "button",
              { type: "button", class: "link", onclick: () => fill(keys, keysSection(s, r)) },
              String(r.name),
            ),
          created_at: (r) => when(String(r.created_at)),
        },
        undefined,
        false,
      ),
    );
  };
  await load();
  const create = async (e: Event) => {
    e.preventDefault();
    try {
      const { data } = await call<Row>(s, "/admin/v1/tenants", { body: { name: name.value } });
      name.value = "";
      await load();
      fill(keys, keysSection(s, data));
    } catch (err) {
      box.append(errorBox(err));
    }
  };
  return h(
    "section",
    { class: "card", "aria-labelledby": "tenants-title" },
    h("h2", { id: "tenants-title" }, "Tenants"),
    h("p", { class: "muted" }, "Pick a tenant to manage its API keys."),
    box,
    h(
      "form",
      { class: "row wrap", onsubmit: (e: Event) => void create(e) },
      h("label", { for: "tenant-name" }, "New tenant"),
      name,
      h("button", { type: "submit" }, "Create tenant"),
    ),
  );
}

function runnerTokensSection(s: Session, pools: Row[]): HTMLElement {
  const box = h("div");
  const created = h("div");
  const pool = h(
    "select",
    { id: "token-pool" },
    pools.map((p) => h("option", { value: String(p.name) }, String(p.name))),
  );
  const load = async () => {
    const { data } = await call<{ data: Row[] }>(s, "/admin/v1/runner-tokens");
    fill(
      box,
      table(
        data.data,
        [
          ["pool", "Pool"],
          ["prefix", "Prefix"],
          ["created_at", "Created"],
          ["revoked_at", ""],
        ],
        {
          created_at: (r) => when(String(r.created_at)),
          revoked_at: (r) =>
            revokeButton(
              s,
              `/admin/v1/runner-tokens/${encodeURIComponent(String(r.id))}`,
              `runner token ${r.prefix}`,
              load,
              r.revoked_at,
            ),
        },
        undefined,
        false,
      ),
    );
  };
  const create = async (e: Event) => {
    e.preventDefault();
    try {
      const { data } = await call<Row>(s, "/admin/v1/runner-tokens", { body: { pool: pool.value } });
      fill(created, secretBox(`New runner token for ${data.pool}`, String(data.token)));
      await load();
    } catch (err) {
      fill(created, errorBox(err));
    }
  };
  void load().catch((err: unknown) => box.append(errorBox(err)));
  return h(
    "section",
    { class: "card", "aria-labelledby": "tokens-title" },
    h("h2", { id: "tokens-title" }, "Runner tokens"),
    box,
    h(
      "form",
      { class: "row wrap", onsubmit: (e: Event) => void create(e) },
      h("label", { for: "token-pool" }, "Pool"),
      pool,
      h("button", { type: "submit" }, "Create runner token"),
    ),
    created,
  );
}

export async function adminPage(ctx: PageContext): Promise<void> {
  const keys = h("div");
  const [tenants, pools] = await Promise.all([
    tenantsSection(ctx, keys),
    call<{ data: Row[] }>(ctx.session, "/admin/v1/pools", { signal: ctx.signal }),
  ]);
  const poolName = h("input", { id: "pool-name", required: true, pattern: "[a-z0-9][a-z0-9-]{0,62}" });
  const poolBox = h(
    "div",
    null,
    table(
      pools.data.data,
      [
        ["name", "Pool"],
        ["region", "Region"],
        ["tenants", "Tenants"],
        ["shards", "Shards"],
        ["created_at", "Created"],
      ],
      { created_at: (r) => when(String(r.created_at)) },
    ),
  );
  const createPool = async (e: Event) => {
    e.preventDefault();
    try {
      await call(ctx.session, "/admin/v1/pools", { body: { name: poolName.value } });
      toast(`Pool ${poolName.value} created.`);
      location.reload();
    } catch (err) {
      poolBox.append(errorBox(err));
    }
  };
  ctx.root.append(
    page(
      "Admin",
      tenants,
      keys,
      runnerTokensSection(ctx.session, pools.data.data),
      h(
        "section",
        { class: "card", "aria-labelledby": "pools-title" },
        h("h2", { id: "pools-title" }, "Pools"),
        poolBox,
        h(
          "form",
          { class: "row wrap", onsubmit: (e: Event) => void createPool(e) },
          h("label", { for: "pool-name" }, "New pool"),
          poolName,
          h("button", { type: "submit" }, "Create pool"),
        ),
      ),
      poolGroupsSection(ctx.session, pools.data.data),
    ),
  );
}
