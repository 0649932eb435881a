/**
 * Writes workers/gateway/src/templates/object-info-0.33.json: the compact input specs (templates/specs.ts)
 * of every node class of a ComfyUI server's object_info, the table templates use while a pool has no
 * capability report.
 *
 *   node scripts/gen-template-specs.ts [object_info.json]   # default: the recorded ComfyUI 0.33
 *
 * templates/specs.test.ts fails when the committed table and the recorded server disagree.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { compactSpecs, RawObjectInfo } from "../workers/gateway/src/templates/specs.ts";

const root = path.join(import.meta.dirname, "..");
const source = process.argv[2] ?? path.join(root, "test/comfyui-double/fixtures/object_info_v0.33.json");
const target = path.join(root, "workers/gateway/src/templates/object-info-0.33.json");

const table = compactSpecs(RawObjectInfo.parse(JSON.parse(readFileSync(source, "utf8"))));
const lines = Object.entries(table).map(([cls, spec]) => `${JSON.stringify(cls)}:${JSON.stringify(spec)}`);
writeFileSync(target, `{\n${lines.join(",\n")}\n}\n`);
console.log(`${path.relative(root, target)}: ${lines.length} classes`);
