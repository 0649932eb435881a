/**
 * Admin page, pool groups (docs/capabilities.md "Regions and failover"): the groups with their members
 * (pool, region, weight) and failover threshold; create one from the pools; delete one.
 */
import { call, type Session } from "../api.ts";
import { errorBox, fill, h, toast } from "../dom.ts";
import { table } from "../table.ts";

type Row = Record<string, unknown>;
type Member = { pool: string; region: string | null; weight: number };

function membersText(r: Row): string {
  const members = Array.isArray(r.members) ? (r.members as Member[]) : [];
  return members.map((m) => `${m.pool} (${m.region ?? "no region"}, weight ${m.weight})`).join(", ");
}

/** `gpu-eu@eu-west:3, gpu-us` -> members; region and weight optional. */
function parseMembers(text: string): Array<{ pool: string; region?: string; weight?: number }> {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const [poolAndRegion = "", weight] = item.split(":");
      const [pool = "", region] = poolAndRegion.split("@");
      return { pool, ...(region ? { region } : {}), ...(weight ? { weight: Number(weight) } : {}) };
    });
}

export function poolGroupsSection(s: Session, pools: Row[]): HTMLElement {
  const box = h("div");
  const out = h("div");
  const name = h("input", { id: "group-name", required: true, pattern: "[a-z0-9][a-z0-9-]{0,62}" });
  const members = h("input", {
    id: "group-members",
    required: true,
    placeholder: pools
      .slice(0, 2)
      .map((p) => `${p.name}${p.region ? `@${p.region}` : ""}`)
      .join(", "),
    class: "mono",
  });
  const maxWait = h("input", { id: "group-max-wait", type: "number", min: "0", step: "any", placeholder: "none" });
  const load = async () => {
    const { data } = await call<{ data: Row[] }>(s, "/admin/v1/pool-groups");
    fill(
      box,
      table(
        data.data,
        [
          ["name", "Group"],
          ["members", "Members (nearest first by region, then weight)"],
          ["max_wait_s", "Max wait (s)"],
          ["delete", ""],
        ],
        {
          members: membersText,
          max_wait_s: (r) => (r.max_wait_s === null ? "none" : String(r.max_wait_s)),
          delete: (r) =>
            h(
              "button",
              {
                type: "button",
                class: "danger small",
                "aria-label": `Delete pool group ${r.name}`,
                onclick: () => {
                  if (!confirm(`Delete pool group ${r.name}? Queued jobs stay in their pools.`)) return;
                  void call(s, `/admin/v1/pool-groups/${encodeURIComponent(String(r.name))}`, {
                    method: "DELETE",
                  }).then(
                    () => load(),
                    (err: unknown) => toast(String(err)),
                  );
                },
              },
              "Delete",
            ),
        },
        "Pool groups",
        false,
      ),
    );
  };
  const create = async (e: Event) => {
    e.preventDefault();
    try {
      await call(s, "/admin/v1/pool-groups", {
        body: {
          name: name.value,
          members: parseMembers(members.value),
          max_wait_s: maxWait.value === "" ? null : Number(maxWait.value),
        },
      });
      toast(`Pool group ${name.value} created.`);
      name.value = "";
      members.value = "";
      maxWait.value = "";
      fill(out);
      await load();
    } catch (err) {
      fill(out, errorBox(err));
    }
  };
  void load().catch((err: unknown) => box.append(errorBox(err)));
  return h(
    "section",
    { class: "card", "aria-labelledby": "groups-title" },
    h("h2", { id: "groups-title" }, "Pool groups"),
    h(
      "p",
      { class: "muted" },
      'Jobs with "pool": "group:<name>" go to the member nearest the caller that has a live runner able to run them, failing over when its wait is above the max wait.',
    ),
    box,
    h(
      "form",
      { class: "row wrap", onsubmit: (e: Event) => void create(e) },
      h("label", { for: "group-name" }, "New group"),
      name,
      h("label", { for: "group-members" }, "Members (pool@region:weight, ...)"),
      members,
      h("label", { for: "group-max-wait" }, "Max wait (s)"),
      maxWait,
      h("button", { type: "submit" }, "Create pool group"),
    ),
    out,
  );
}
