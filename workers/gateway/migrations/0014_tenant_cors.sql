-- Per-tenant browser origins (docs/cors.md): a JSON array of origins (`https://app.example.com`,
-- `https://*.example.com`, `*`) that replaces the deployment's CORS_ALLOWED_ORIGINS for the tenant's keys.
-- NULL = the deployment's list applies.
ALTER TABLE tenants ADD COLUMN cors_allowed_origins TEXT;
