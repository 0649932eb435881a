-- Workflow templates (docs/templates.md): per tenant, each create or update adds an immutable version (name@N).
-- The graph of a version is stored here in API format with every input's default written in (<= 1 MiB),
-- beside its typed inputs (JSON); both are written in one batch with the version number, so a version is
-- never half-written. DELETE removes the template and all its versions; jobs already run keep their own graph.
CREATE TABLE templates (
  tenant_id TEXT NOT NULL,
  name TEXT NOT NULL,
  latest_version INTEGER NOT NULL,
  description TEXT,
  pool TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, name)
);

CREATE TABLE template_versions (
  tenant_id TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  description TEXT,
  pool TEXT,
  source TEXT NOT NULL,                      -- ui | api: the format the author sent
  inputs TEXT NOT NULL,                      -- JSON array of typed inputs (templates/detect.ts TemplateInput)
  workflow TEXT NOT NULL,                    -- JSON, API format, defaults applied
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, name, version)
);
