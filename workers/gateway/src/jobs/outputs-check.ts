/**
 * Checks the outputs a runner reports with `succeeded` against R2 before the job records them: each was
 * uploaded under this attempt's prefix, there are at most MAX_OUTPUTS of them and MAX_OUTPUT_BYTES in all,
 * and each one's first bytes match its declared media type.
 */
import type { JobError, JsonObject, OutputRef } from "@comfy-edge/shared/contract";
import type { JobConfig } from "./config.ts";
import { contentMismatch, SNIFF_BYTES } from "./media-sniff.ts";
import type { StoredOutput } from "./state.ts";

export type OutputCheck =
  | { ok: true; outputs: StoredOutput[] }
  /** The runner's report is wrong (it may upload and report again): 422 to the runner. */
  | { ok: false; code: "output_missing"; message: string }
  /** The outputs break a limit or lie about their type: the job fails (its objects are swept). */
  | { ok: "fail"; error: JobError };

const MIB = 1024 * 1024;

export async function checkOutputs(
  bucket: R2Bucket,
  jobId: string,
  attempt: number,
  outputs: OutputRef[],
  cfg: JobConfig,
): Promise<OutputCheck> {
  if (outputs.length > cfg.maxOutputs) {
    return fail(
      "too_many_outputs",
      `The job produced ${outputs.length} outputs; at most ${cfg.maxOutputs} are kept per job. Save fewer images (lower batch_size or fewer output nodes).`,
    );
  }
  const prefix = `jobs/${jobId}/a${attempt}/`;
  const heads = await Promise.all(outputs.map((o) => (o.key.startsWith(prefix) ? bucket.head(o.key) : null)));
  const missing = heads.indexOf(null);
  if (missing >= 0) {
    return {
      ok: false,
      code: "output_missing",
      message: `Output ${missing} (${outputs[missing]!.key}) was not uploaded under ${prefix}.`,
    };
  }
  const total = heads.reduce((sum, h) => sum + h!.size, 0);
  if (total > cfg.maxOutputBytes) {
    return fail(
      "output_too_large",
      `The job's outputs are ${(total / MIB).toFixed(1)} MiB in all; the limit is ${(cfg.maxOutputBytes / MIB).toFixed(0)} MiB per job.`,
      { bytes: total, max_bytes: cfg.maxOutputBytes },
    );
  }
  const firstBytes = await Promise.all(
    outputs.map(async (o) => {
      const object = await bucket.get(o.key, { range: { offset: 0, length: SNIFF_BYTES } });
      return object ? new Uint8Array(await object.arrayBuffer()) : new Uint8Array();
    }),
  );
  const wrong = outputs.findIndex((o, i) => contentMismatch(o.content_type, firstBytes[i]!));
  if (wrong >= 0) {
    const o = outputs[wrong]!;
    return fail(
      "output_type_mismatch",
      `Output ${wrong} (${o.filename}, node ${o.node_id}) is declared ${o.content_type} but its bytes are not ${o.content_type}; it was discarded.`,
      { index: wrong, node_id: o.node_id, content_type: o.content_type },
    );
  }
  return {
    ok: true,
    outputs: outputs.map((o, i) => ({
      index: i,
      key: o.key,
      node_id: o.node_id,
      filename: o.filename,
      content_type: o.content_type,
      size: heads[i]!.size,
    })),
  };
}

function fail(code: string, message: string, details?: JsonObject): OutputCheck {
  return { ok: "fail", error: details ? { code, message, details } : { code, message } };
}
