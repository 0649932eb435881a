-- Images API (docs/images.md): a template may be served as an OpenAI image model of its tenant.
-- images_model is the model name (unique per tenant); images_bindings the author's overrides of which
-- template input each OpenAI parameter sets (JSON object, param -> input name), or NULL (derived).
ALTER TABLE templates ADD COLUMN images_model TEXT;
ALTER TABLE templates ADD COLUMN images_bindings TEXT;
CREATE UNIQUE INDEX templates_images_model ON templates (tenant_id, images_model) WHERE images_model IS NOT NULL;

-- Multi-turn edit sessions: one row per session and tenant; turns is a JSON array of
-- {prompt, revised_prompt, job_id, outputs: [{key, content_type}], created_at}. Rows past expires_at are
-- treated as absent and removed when touched.
CREATE TABLE image_sessions (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  model TEXT NOT NULL,
  turns TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
