/** Pool-group and pool-view calls for test/openapi/responses.test.ts (each documented operation answered). */
type Call = (
  method: string,
  template: string,
  options: { token?: string; body?: unknown; url?: string },
) => Promise<unknown>;

/** Needs an existing pool open to the key's tenant (`pool`) and the tenant's id. */
export async function exercisePoolGroups(
  call: Call,
  ids: { admin: string; key: string; tenantId: string; pool: string },
): Promise<void> {
  const { admin: token, key, tenantId, pool } = ids;
  const g = (name: string) => `/admin/v1/pool-groups/${name}`;
  await call("POST", "/admin/v1/pool-groups", { token, body: { name: "oa-group", members: [{ pool }] } });
  await call("POST", "/admin/v1/pool-groups", { token, body: { name: "oa-group", members: [{ pool }] } });
  await call("POST", "/admin/v1/pool-groups", { token, body: { name: "oa-g2", members: [] } });
  await call("POST", "/admin/v1/pool-groups", { token, body: { name: "oa-g2", members: [{ pool: "nope" }] } });
  await call("POST", "/admin/v1/pool-groups", { body: { name: "oa-g2", members: [{ pool }] } });
  await call("GET", "/admin/v1/pool-groups", { token });
  await call("GET", "/admin/v1/pool-groups/{name}", { token, url: g("oa-group") });
  await call("GET", "/admin/v1/pool-groups/{name}", { token, url: g("nope") });
  await call("PATCH", "/admin/v1/pool-groups/{name}", { token, url: g("oa-group"), body: { max_wait_s: 30 } });
  await call("PATCH", "/admin/v1/pool-groups/{name}", { token, url: g("oa-group"), body: { max_wait_s: -1 } });
  await call("PATCH", "/admin/v1/pool-groups/{name}", {
    token,
    url: g("oa-group"),
    body: { members: [{ pool: "x" }] },
  });
  await call("PATCH", "/admin/v1/pool-groups/{name}", { token, url: g("nope"), body: { max_wait_s: 1 } });
  await call("DELETE", "/admin/v1/pool-groups/{name}", { token, url: g("oa-group") });
  await call("DELETE", "/admin/v1/pool-groups/{name}", { token, url: g("oa-group") });
  const region = (id: string) => `/admin/v1/tenants/${id}/region`;
  await call("PUT", "/admin/v1/tenants/{id}/region", { token, url: region(tenantId), body: { region: "eu-west" } });
  await call("PUT", "/admin/v1/tenants/{id}/region", { token, url: region(tenantId), body: { region: 5 } });
  await call("PUT", "/admin/v1/tenants/{id}/region", { token, url: region("ten_nope"), body: { region: null } });
  await call("GET", "/admin/v1/tenants/{id}/region", { token, url: region(tenantId) });
  await call("GET", "/admin/v1/tenants/{id}/region", { token, url: region("ten_nope") });
  await call("PUT", "/admin/v1/tenants/{id}/region", { token, url: region(tenantId), body: { region: null } });
  await call("GET", "/v1/pools/{name}", { token: key, url: `/v1/pools/${pool}` });
  await call("GET", "/v1/pools/{name}", { token: key, url: "/v1/pools/nope" });
}
