import { describe, expect, it } from "vitest";
import { checkUrl } from "./check.ts";
import { DEFAULT_MAX_DATA_BYTES, envFlag, envPorts, policyFor, privateUrlsWarning } from "./policy.ts";

describe("policyFor", () => {
  it("defaults to strict: https only, no private, data: images up to 10 MB, any public host", () => {
    expect(DEFAULT_MAX_DATA_BYTES).toBe(10 * 1024 * 1024);
    expect(policyFor("image", {})).toEqual({
      allowHttp: false,
      allowPrivate: false,
      allowData: true,
      maxDataBytes: DEFAULT_MAX_DATA_BYTES,
      allowedPorts: [],
      hostAllowlist: [],
      allowlistName: "the deployment's IMAGE_URL_ALLOWLIST",
    });
  });

  it("reads the deployment env vars", () => {
    const policy = policyFor("image", {
      ALLOW_HTTP_URLS: "true",
      ALLOW_PRIVATE_URLS: "TRUE",
      URL_ALLOWED_PORTS: " 8443, 8080 ,,nope,0,70000",
      MAX_DATA_URL_BYTES: "2048",
      IMAGE_URL_ALLOWLIST: "*.Example.com, cdn.example.net. ,",
    });
    expect(policy).toMatchObject({
      allowHttp: true,
      allowPrivate: true,
      allowedPorts: [8443, 8080],
      maxDataBytes: 2048,
      hostAllowlist: ["*.example.com", "cdn.example.net"],
    });
  });

  it("treats anything but true/1/yes/on as false", () => {
    expect(["true", "1", "yes", "on", " True "].map(envFlag)).toEqual([true, true, true, true, true]);
    expect(["false", "0", "", "no", "truthy", undefined].map(envFlag)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(policyFor("image", { ALLOW_PRIVATE_URLS: "false", ALLOW_HTTP_URLS: "nah" })).toMatchObject({
      allowHttp: false,
      allowPrivate: false,
    });
  });

  it("ignores an invalid MAX_DATA_URL_BYTES and invalid ports", () => {
    expect(policyFor("image", { MAX_DATA_URL_BYTES: "ten" }).maxDataBytes).toBe(DEFAULT_MAX_DATA_BYTES);
    expect(policyFor("image", { MAX_DATA_URL_BYTES: "0" }).maxDataBytes).toBe(DEFAULT_MAX_DATA_BYTES);
    expect(envPorts("22, -1, 65535, 65536, 1.5")).toEqual([22, 65535]);
  });

  it("image: the tenant list replaces the deployment list when it is non-null", () => {
    const env = { IMAGE_URL_ALLOWLIST: "*.deploy.example" };
    expect(policyFor("image", env, { image_url_allowlist: ["Tenant.Example"] })).toMatchObject({
      hostAllowlist: ["tenant.example"],
      allowlistName: "this tenant's image_url_allowlist",
    });
    expect(policyFor("image", env, { image_url_allowlist: [] }).hostAllowlist).toEqual([]);
    expect(policyFor("image", env, { image_url_allowlist: null }).hostAllowlist).toEqual(["*.deploy.example"]);
    expect(policyFor("image", env, null).hostAllowlist).toEqual(["*.deploy.example"]);
    expect(policyFor("image", env, {}).hostAllowlist).toEqual(["*.deploy.example"]);
  });

  it("webhook: tenant webhook_host_allowlist or any public host, never data: URLs", () => {
    const env = { IMAGE_URL_ALLOWLIST: "*.deploy.example" };
    const open = policyFor("webhook", env, { image_url_allowlist: ["x.example"] });
    expect(open).toMatchObject({ allowData: false, hostAllowlist: [] });
    const restricted = policyFor("webhook", env, { webhook_host_allowlist: ["hooks.example.com"] });
    expect(restricted.hostAllowlist).toEqual(["hooks.example.com"]);
    expect(checkUrl("https://other.example.com/hook", restricted)).toMatchObject({
      ok: false,
      code: "url_not_allowed",
      reason: "host other.example.com is not on this tenant's webhook_host_allowlist",
    });
    expect(checkUrl("data:image/png;base64,iVBORw0KGgo=", open)).toMatchObject({ ok: false, code: "unsafe_url" });
  });

  it("normalises allowlist entries (IDN, case, trailing dot, URLs, IPv6) and keeps invalid ones inert", () => {
    const policy = policyFor(
      "image",
      {},
      {
        image_url_allowlist: ["*.B\u00dcCHER.example", "HTTPS://Img.Example.com/path", "2606:4700::1111", "bad host!"],
      },
    );
    expect(policy.hostAllowlist).toEqual([
      "*.xn--bcher-kva.example",
      "img.example.com",
      "[2606:4700::1111]",
      "bad host!",
    ]);
  });
});

describe("privateUrlsWarning", () => {
  it("warns only when ALLOW_PRIVATE_URLS is on", () => {
    expect(privateUrlsWarning({})).toBeNull();
    expect(privateUrlsWarning({ ALLOW_PRIVATE_URLS: "false" })).toBeNull();
    expect(privateUrlsWarning({ ALLOW_PRIVATE_URLS: "true" })).toContain("local development only");
  });
});
