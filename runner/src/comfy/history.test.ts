import { describe, expect, it } from "vitest";
import { exchanges, recording } from "../../test/recordings.ts";
import { collectOutputs, compareNodeIds, contentTypeFor, HistoryEntry, outcomeFromHistory } from "./history.ts";

function recordedEntry(name: string, index = 0): HistoryEntry {
  const rec = recording(name);
  const found = exchanges(rec, "GET", "/history/").filter((e) => Object.keys(e.response!.body as object).length > 0);
  const body = found[index]!.response!.body as Record<string, unknown>;
  return HistoryEntry.parse(Object.values(body)[0]);
}

describe("outcomeFromHistory", () => {
  it("reads success with ComfyUI's timestamps", () => {
    const outcome = outcomeFromHistory(recordedEntry("01_basic_emptyimage_invert_save"));
    expect(outcome).toEqual({ status: "success", startedAt: 1795310596407, endedAt: 1795310596415 });
  });

  it("reads execution errors", () => {
    const outcome = outcomeFromHistory(recordedEntry("05_execution_error"));
    expect(outcome?.status).toBe("error");
    if (outcome?.status === "error") {
      expect(outcome.data).toMatchObject({ node_id: "3", node_type: "SaveImage", exception_type: "Exception" });
    }
  });

  it("reads interruptions", () => {
    const outcome = outcomeFromHistory(recordedEntry("06_interrupt"));
    expect(outcome).toMatchObject({ status: "interrupted", nodeId: "102" });
  });

  it("says nothing for an entry without a status", () => {
    expect(outcomeFromHistory(HistoryEntry.parse({ outputs: {} }))).toBeNull();
  });
});

describe("collectOutputs", () => {
  it("lists saved images from a recorded entry", () => {
    expect(collectOutputs(recordedEntry("01_basic_emptyimage_invert_save").outputs)).toEqual([
      {
        kind: "file",
        node_id: "3",
        filename: "proto_basic_00001_.png",
        subfolder: "",
        type: "output",
        content_type: "image/png",
      },
    ]);
  });

  it("keeps previews (type temp) when the prompt saved nothing else, in node order", () => {
    const outputs = collectOutputs(recordedEntry("08_preview_progress_binary_frames").outputs);
    expect(outputs.map((o) => [o.node_id, o.filename])).toEqual([
      ["3", "ComfyUI_temp_lflvj_00001_.png"],
      ["3", "ComfyUI_temp_lflvj_00002_.png"],
      ["6", "ComfyUI_temp_misfc_00001_.png"],
      ["6", "ComfyUI_temp_misfc_00002_.png"],
    ]);
  });

  it("collects images, gifs, video, audio, 3d and text; drops previews when something was saved", () => {
    const outputs = collectOutputs({
      "10": { images: [{ filename: "a_00001_.png", subfolder: "", type: "output" }], animated: [false] },
      "2": { images: [{ filename: "ComfyUI_temp_x_00001_.png", subfolder: "", type: "temp" }] },
      "12": {
        gifs: [
          { filename: "clip_00001.mp4", subfolder: "", type: "output", format: "video/h264-mp4", frame_rate: 8 },
          { filename: "loop_00001.gif", subfolder: "", type: "output", format: "image/gif" },
        ],
      },
      "13": { audio: [{ filename: "speech_00001_.flac", subfolder: "audio", type: "output" }] },
      "14": { images: [{ filename: "v_00001_.webm", subfolder: "video", type: "output" }], animated: [true] },
      "15": { "3d": [{ filename: "mesh_00001_.glb", subfolder: "3d", type: "output" }] },
      "16": { text: ["a caption", 42] },
      "17": { images: [{ filename: "a_00001_.png", subfolder: "", type: "output" }] },
      "18": { images: [{ nope: true }], latents: "x" },
    });
    expect(outputs.map((o) => [o.node_id, o.filename, o.content_type])).toEqual([
      ["10", "a_00001_.png", "image/png"],
      ["12", "clip_00001.mp4", "video/h264-mp4"],
      ["12", "loop_00001.gif", "image/gif"],
      ["13", "speech_00001_.flac", "audio/flac"],
      ["14", "v_00001_.webm", "video/webm"],
      ["15", "mesh_00001_.glb", "model/gltf-binary"],
      ["16", "16-1.txt", "text/plain; charset=utf-8"],
    ]);
    expect(outputs.find((o) => o.kind === "text")).toMatchObject({ text: "a caption" });
  });

  it("orders node ids numerically and guesses content types", () => {
    expect(["10", "2", "1:3", "1"].sort(compareNodeIds)).toEqual(["1", "1:3", "2", "10"]);
    expect(contentTypeFor("x.JPEG")).toBe("image/jpeg");
    expect(contentTypeFor("x.bin")).toBe("application/octet-stream");
    expect(contentTypeFor("x", "not a type")).toBe("application/octet-stream");
  });
});
