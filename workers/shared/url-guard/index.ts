export { assertSafeUrl, checkUrl } from "./check.ts";
export { type Hop, type HopRequest, type HopResponse, readCapped, runGuardedExchange } from "./exchange.ts";
export { guardedFetch } from "./fetch.ts";
export { UrlGuardError, urlGuardErrorToApiError } from "./guard-error.ts";
export { hostMatchesAllowlist, normaliseAllowlistEntry } from "./host.ts";
export { IMAGE_MIME_TYPES, sniffImageType } from "./image-type.ts";
export { forbiddenAddressDescription, isForbiddenAddress } from "./ip.ts";
export {
  DEFAULT_MAX_DATA_BYTES,
  policyFor,
  privateUrlsWarning,
  type TenantUrlSettings,
  type UrlEnv,
} from "./policy.ts";
export type {
  DataUrlCheck,
  GuardedFetchOptions,
  GuardedResponse,
  HttpUrlCheck,
  ImageMimeType,
  UrlCheck,
  UrlGuardErrorCode,
  UrlPolicy,
  UrlPurpose,
  UrlReject,
  UrlRejectCode,
} from "./types.ts";
