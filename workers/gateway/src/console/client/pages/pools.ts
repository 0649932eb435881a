/** Pools: the GPU pools the tenant may use, with live runner, queued and running counts (GET /v1/pools). */
import { call } from "../api.ts";
import type { PageContext } from "../context.ts";
import { h, page } from "../dom.ts";
import { table } from "../table.ts";

export async function poolsPage(ctx: PageContext): Promise<void> {
  const { data } = await call<{ data: Array<Record<string, unknown>> }>(ctx.session, "/v1/pools", {
    signal: ctx.signal,
  });
  ctx.root.append(
    page(
      "Pools",
      h(
        "p",
        { class: "muted" },
        "Runners that asked for work in the last 90 s, and the jobs waiting and running in each pool.",
      ),
      table(
        data.data.map(({ default: isDefault, ...rest }) => ({
          ...rest,
          name: h("span", null, String(rest.name), " ", isDefault ? h("span", { class: "badge" }, "default") : null),
        })),
        [
          ["name", "Pool"],
          ["region", "Region"],
          ["runners", "Runners"],
          ["queued", "Queued"],
          ["running", "Running"],
        ],
        {
          runners: (r) =>
            h("span", { class: Number(r.runners) > 0 ? "health ok" : "health down" }, String(r.runners ?? 0)),
        },
      ),
    ),
  );
}
