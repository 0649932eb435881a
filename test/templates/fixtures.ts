/** The real workflows of test/fixtures/workflows (README there names their sources) and the specs to read them. */
import { readFileSync } from "node:fs";
import path from "node:path";
import table from "../../workers/gateway/src/templates/object-info-0.33.json" with { type: "json" };
import { compactSpecs, RawObjectInfo, type SpecTable } from "../../workers/gateway/src/templates/specs.ts";

const dir = path.join(import.meta.dirname, "../fixtures/workflows");

export function fixture(name: string): unknown {
  return JSON.parse(readFileSync(path.join(dir, name), "utf8"));
}

/** ComfyUI 0.33's table (what the gateway uses today). */
export const CORE = table as SpecTable;

/** 0.33 plus the two custom nodes (rgthree's Seed, JPS's SDXL Resolutions) some real SDXL workflows use. */
export const WITH_CUSTOM: SpecTable = {
  ...CORE,
  ...compactSpecs(RawObjectInfo.parse(fixture("custom-nodes.object_info.json"))),
};
