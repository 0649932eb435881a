import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { pathInside, removeRunFiles } from "./cleanup.ts";
import { silentLogger } from "./log.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function comfyDir() {
  const base = mkdtempSync(join(tmpdir(), "cleanup-test-"));
  dirs.push(base);
  const folders = { input: join(base, "input"), output: join(base, "output"), temp: join(base, "temp") };
  for (const f of Object.values(folders)) mkdirSync(f);
  return { base, folders };
}

function touch(path: string) {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, "x");
}

describe("pathInside", () => {
  it("keeps names strictly inside the folder and refuses every way out", () => {
    expect(pathInside("/c/output", "", "a.png")).toBe("/c/output/a.png");
    expect(pathInside("/c/output", "comfy-edge/r1", "a.png")).toBe("/c/output/comfy-edge/r1/a.png");
    expect(pathInside("/c/output/", "sub/../sub2", "a.png")).toBe("/c/output/sub2/a.png");
    expect(pathInside("/c/output", "..", "input/a.png")).toBeNull();
    expect(pathInside("/c/output", "", "../output2/a.png")).toBeNull();
    expect(pathInside("/c/output", "/etc", "passwd")).toBeNull();
    expect(pathInside("/c/output", "", "/etc/passwd")).toBeNull();
    expect(pathInside("/c/output", "a/../..", "x")).toBeNull();
    expect(pathInside("/c/output", "", ".")).toBeNull();
    expect(pathInside("/c/output", "", "")).toBeNull();
    expect(pathInside("/c/output", "", "a\0.png")).toBeNull();
    expect(pathInside("/c/output", "", "..png")).toBe("/c/output/..png");
  });
});

describe("removeRunFiles", () => {
  it("removes the listed files and the run's folders, nothing else; refuses traversal and symlinked escapes", async () => {
    const { base, folders } = comfyDir();
    touch(join(folders.output, "comfy-edge", "r1", "mine_00001_.png"));
    touch(join(folders.output, "comfy-edge", "r2", "other_00001_.png"));
    touch(join(folders.input, "comfy-edge", "r1", "n10.png"));
    touch(join(folders.temp, "ComfyUI_temp_abcde_00001_.png"));
    touch(join(folders.temp, "ComfyUI_temp_zzzzz_00001_.png"));
    touch(join(base, "secret.txt"));
    touch(join(base, "elsewhere", "linked.png"));
    symlinkSync(join(base, "elsewhere"), join(folders.output, "link"));

    const result = await removeRunFiles(
      folders,
      [
        { type: "temp", subfolder: "", filename: "ComfyUI_temp_abcde_00001_.png" },
        { type: "output", subfolder: "comfy-edge/r1", filename: "mine_00001_.png" },
        { type: "output", subfolder: "", filename: "gone_already.png" },
        { type: "output", subfolder: "..", filename: "secret.txt" },
        { type: "output", subfolder: "link", filename: "linked.png" },
        { type: "models", subfolder: "", filename: "x.safetensors" },
      ],
      [
        { type: "input", subfolder: "comfy-edge", filename: "r1" },
        { type: "output", subfolder: "comfy-edge", filename: "r1" },
        { type: "output", subfolder: "comfy-edge", filename: "../.." },
      ],
      silentLogger,
    );
    expect(result).toEqual({ removed: 2, refused: 4 });
    expect(existsSync(join(folders.temp, "ComfyUI_temp_abcde_00001_.png"))).toBe(false);
    expect(existsSync(join(folders.output, "comfy-edge", "r1"))).toBe(false);
    expect(existsSync(join(folders.input, "comfy-edge", "r1"))).toBe(false);
    // Other runs' files and everything outside the folders stay.
    expect(existsSync(join(folders.output, "comfy-edge", "r2", "other_00001_.png"))).toBe(true);
    expect(existsSync(join(folders.temp, "ComfyUI_temp_zzzzz_00001_.png"))).toBe(true);
    expect(existsSync(join(base, "secret.txt"))).toBe(true);
    expect(existsSync(join(base, "elsewhere", "linked.png"))).toBe(true);
    expect(existsSync(folders.output)).toBe(true);
  });
});
