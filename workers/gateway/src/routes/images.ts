/**
 * The OpenAI Images API over templates (scope `jobs`, docs/images.md): generations (JSON), edits
 * (multipart, up to 4 images and a mask) with multi-turn edit sessions, and a session's turns. Each
 * request runs its model's template as job(s) through the jobs submit core and answers like OpenAI once
 * they finish (job ids in `x-job-id`).
 */

import { toBase64 } from "@comfy-edge/shared/crypto";
import { ApiError } from "@comfy-edge/shared/errors";
import { OUTPUT_URL_TTL_S } from "@comfy-edge/shared/job-view";
import { Presigner } from "@comfy-edge/shared/presign";
import { type Context, Hono } from "hono";
import { chatApp, enhancePrompt, type PromptEnhance } from "../images/enhance.ts";
import { readEditForm } from "../images/form.ts";
import { ImageGenerate } from "../images/params.ts";
import { type ImagesAnswer, runImages, submitImages } from "../images/run.ts";
import { type EditSession, newSessionId, readSession, saveSession, sessionNotFound } from "../images/sessions.ts";
import { imagesStream } from "../images/stream.ts";
import { parseWith, readJsonValue } from "../lib/body.ts";
import { apiKeyAuth } from "../middleware/api-key-auth.ts";
import type { AppEnv } from "../types.ts";

const MAX_JSON_BYTES = 1024 * 1024;

const chat = chatApp();

/** The prompt the image model gets: the caller's, or what prompt_enhance's LLM wrote from it. */
async function promptOf(c: Context<AppEnv>, prompt: string, spec: PromptEnhance | undefined) {
  if (!spec) return { revised_prompt: prompt };
  const { text, step } = await enhancePrompt(c, chat, spec, prompt);
  return { revised_prompt: text, steps: [step] };
}

export const imageRoutes = new Hono<AppEnv>();
imageRoutes.use("*", apiKeyAuth({ scope: "jobs" }));

imageRoutes.post("/generations", async (c) => {
  const {
    prompt_enhance: spec,
    stream,
    partial_images: partialImages,
    ...body
  } = parseWith(ImageGenerate, await readJsonValue(c, { maxBytes: MAX_JSON_BYTES }));
  const format = stream ? "b64_json" : body.response_format;
  const revised = await promptOf(c, body.prompt, spec);
  const req = { ...body, response_format: format, images: [], ...revised };
  if (!stream) return c.json((await runImages(c, req)).body);
  // Streamed: errors until the jobs are queued answer as usual; later ones are `error` events.
  return imagesStream(c, req, await submitImages(c, req), {
    kind: "image_generation",
    partialImages: partialImages ?? 0,
  });
});

/** The session's last output as a data: URL (the image the next turn edits). */
async function lastOutput(env: Env, session: EditSession): Promise<string | null> {
  const last = session.turns.at(-1)?.outputs[0];
  if (!last) return null;
  const object = await env.FILES.get(last.key);
  if (!object) return null;
  return `data:${last.content_type};base64,${toBase64(new Uint8Array(await object.arrayBuffer()))}`;
}

imageRoutes.post("/edits", async (c) => {
  const tenantId = c.get("auth").tenantId;
  const { fields, images, mask } = await readEditForm(c);
  const {
    edit_session: sessionId,
    reset,
    input_fidelity: _f,
    stream,
    partial_images: partialImages,
    prompt_enhance: spec,
    ...options
  } = fields;
  const now = Date.now();
  let session: EditSession;
  if (sessionId) {
    const found = await readSession(c.env.DB, tenantId, sessionId, now);
    if (!found) throw sessionNotFound(sessionId);
    session = found;
  } else session = { id: newSessionId(), model: options.model, turns: [], created_at: now, expires_at: 0 };
  // Images given start the session over from them; `reset` clears it.
  if (reset === "true" || reset === "1" || images.length > 0) session.turns = [];
  const from = images.length > 0 ? images : [await lastOutput(c.env, session)].filter((x): x is string => x !== null);
  if (from.length === 0) {
    throw new ApiError(
      400,
      "missing_image",
      session.turns.length > 0
        ? "image: the session's last output is gone (its job was deleted); send an image to start over."
        : "image: required: send image (or image[] up to 4), or edit_session naming a session with a previous turn.",
      { param: "image" },
    );
  }
  const revised = await promptOf(c, options.prompt, spec);
  const req = { ...options, images: from, ...(mask ? { mask } : {}), ...revised };
  /** The turn is saved once its jobs succeeded (a failed turn leaves the session as it was). */
  const saveTurn = async (answer: ImagesAnswer) => {
    session.model = options.model;
    session.turns.push({
      prompt: options.prompt,
      revised_prompt: revised.revised_prompt,
      job_ids: answer.jobIds,
      outputs: answer.outputs,
      created_at: now,
    });
    await saveSession(c.env.DB, tenantId, session, Date.now());
  };
  if (stream === "true" || stream === "1") {
    // Streamed: the turn is saved when the jobs finish, before the image_edit.completed events.
    const streamed = { ...req, response_format: "b64_json" as const };
    return imagesStream(c, streamed, await submitImages(c, streamed), {
      kind: "image_edit",
      partialImages: partialImages ?? 0,
      onAnswer: saveTurn,
      extra: { edit_session: session.id },
      headers: { "x-edit-session": session.id },
    });
  }
  const answer = await runImages(c, req);
  await saveTurn(answer);
  return c.json({ ...answer.body, edit_session: session.id });
});

imageRoutes.get("/sessions/:id", async (c) => {
  const id = c.req.param("id");
  const session = await readSession(c.env.DB, c.get("auth").tenantId, id);
  if (!session) throw sessionNotFound(id);
  const presigner = new Presigner(c.env, new URL(c.req.url).origin);
  const turns = await Promise.all(
    session.turns.map(async (t) => ({
      prompt: t.prompt,
      revised_prompt: t.revised_prompt,
      job_ids: t.job_ids,
      created_at: new Date(t.created_at).toISOString(),
      outputs: await Promise.all(
        t.outputs.map(async (o) => ({
          content_type: o.content_type,
          url: (
            await presigner.signDownload(
              o.key,
              { content_type: o.content_type, filename: o.key.split("/").pop()! },
              OUTPUT_URL_TTL_S,
            )
          ).url,
        })),
      ),
    })),
  );
  return c.json({
    id: session.id,
    object: "image.edit_session" as const,
    model: session.model,
    created_at: new Date(session.created_at).toISOString(),
    expires_at: new Date(session.expires_at).toISOString(),
    turns,
  });
});
