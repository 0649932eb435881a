/** The generated table agrees with the rules and with the recorded ComfyUI 0.33 server, so it cannot drift. */
import { describe, expect, it } from "vitest";
import recorded from "../../../../test/comfyui-double/fixtures/object_info_v0.33.json" with { type: "json" };
import { COMFYUI_0_33_CLASSES } from "./node-policy-classes.ts";
import { classifyNodes, ObjectInfo } from "./node-policy-classify.ts";

const info = ObjectInfo.parse(recorded);
const classes = classifyNodes(info);

describe("node classes of ComfyUI 0.33", () => {
  it("the committed table is what the rules give for the recorded object_info (regenerate: node scripts/gen-node-classes.ts)", () => {
    expect(COMFYUI_0_33_CLASSES).toEqual(classes);
  });

  it("every server-side file reader named in the security probe is a file reader, with its file input", () => {
    expect(classes.fileReaders).toMatchObject({
      LoadImage: ["image"],
      LoadImageMask: ["image"],
      LoadImageOutput: ["image"],
      LoadVideo: ["file"],
      LoadAudio: ["audio"],
      Load3D: expect.arrayContaining(["model_file"]),
      LoadLatent: ["latent"],
    });
  });

  it("model, LoRA and latent savers are writers; the nodes that produce job outputs are not", () => {
    expect(classes.writers).toEqual(
      expect.arrayContaining(["CheckpointSave", "ModelSave", "CLIPSave", "VAESave", "LoraSave", "SaveLatent"]),
    );
    const all = new Set([...Object.keys(classes.fileReaders), ...classes.writers, ...classes.apiNodes]);
    for (const output of [
      "SaveImage",
      "PreviewImage",
      "SaveAnimatedWEBP",
      "SaveAnimatedPNG",
      "SaveVideo",
      "SaveWEBM",
      "SaveAudio",
      "SaveImageWebsocket",
    ]) {
      expect(info[output], output).toBeDefined();
      expect(all.has(output), output).toBe(false);
    }
  });

  it("every object_info entry flagged api_node is a paid API node", () => {
    const flagged = Object.keys(info).filter((name) => info[name]!.api_node === true);
    expect(flagged.length).toBe(233);
    expect(classes.apiNodes).toEqual(expect.arrayContaining(flagged));
  });
});
