/**
 * Removes what one run of a job left in ComfyUI's folders (COMFYUI_DIR): the inputs it uploaded, the files
 * its prompt wrote (outputs and previews, as ComfyUI listed them) and the run's own subfolders. ComfyUI has
 * no HTTP call to delete files, so the runner needs the folders on its own file system. Names come from
 * ComfyUI, so each path is resolved and must stay strictly inside its folder (also after following
 * symbolic links); anything else is refused and logged.
 */
import { lstat, realpath, rm, unlink } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import type { ComfyClient } from "./comfy/client.ts";
import { fileRefs } from "./comfy/history.ts";
import type { PromptWatcher } from "./comfy/watcher.ts";
import type { ComfyFolders } from "./config.ts";
import type { Logger } from "./log.ts";

export type { ComfyFolders };

export interface FolderFile {
  /** ComfyUI's folder type: input | output | temp. */
  type: string;
  subfolder: string;
  filename: string;
}

/** The absolute path of `subfolder/filename` inside `folder`, or null if it would leave the folder (pure). */
export function pathInside(folder: string, subfolder: string, filename: string): string | null {
  if (filename === "" || `${subfolder}${filename}`.includes("\0")) return null;
  const root = resolve(folder);
  const full = resolve(root, subfolder, filename);
  return isStrictlyInside(root, full) ? full : null;
}

function isStrictlyInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== "" && rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

function folderOf(folders: ComfyFolders, type: string): string | null {
  return type === "input" || type === "output" || type === "temp" ? folders[type] : null;
}

export interface CleanupResult {
  removed: number;
  refused: number;
}

/**
 * Deletes `files` and the run's `subfolders` (removed whole: their names are random per run, so all they
 * hold is this run's) from `folders`. Never throws; a missing file is not an error.
 */
export async function removeRunFiles(
  folders: ComfyFolders,
  files: FolderFile[],
  subfolders: FolderFile[],
  log: Logger,
): Promise<CleanupResult> {
  const result: CleanupResult = { removed: 0, refused: 0 };
  const refuse = (what: FolderFile, why: string) => {
    result.refused += 1;
    log.warn("not removing a file outside comfyui's folders", { ...what, why });
  };
  for (const file of files) {
    const folder = folderOf(folders, file.type);
    const path = folder === null ? null : pathInside(folder, file.subfolder, file.filename);
    if (folder === null || path === null) {
      refuse(file, "the name leaves the folder");
      continue;
    }
    try {
      if (!(await insideAfterLinks(folder, dirname(path)))) {
        refuse(file, "a symbolic link leads outside the folder");
        continue;
      }
      const stats = await lstat(path);
      if (stats.isDirectory()) continue;
      await unlink(path);
      result.removed += 1;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT")
        log.warn("could not remove a file", { ...file, error: err });
    }
  }
  for (const dir of subfolders) {
    const folder = folderOf(folders, dir.type);
    const path = folder === null ? null : pathInside(folder, dir.subfolder, dir.filename);
    if (folder === null || path === null) {
      refuse(dir, "the name leaves the folder");
      continue;
    }
    try {
      if (!(await insideAfterLinks(folder, dirname(path)))) {
        refuse(dir, "a symbolic link leads outside the folder");
        continue;
      }
      await rm(path, { recursive: true, force: true });
    } catch (err) {
      log.warn("could not remove a run folder", { ...dir, error: err });
    }
  }
  return result;
}

/** The real path of `dir` is the folder itself or inside it (a missing dir counts as inside: nothing to do). */
async function insideAfterLinks(folder: string, dir: string): Promise<boolean> {
  let realFolder: string;
  let realDir: string;
  try {
    realFolder = await realpath(folder);
    realDir = await realpath(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return true;
    throw err;
  }
  return realDir === realFolder || isStrictlyInside(realFolder, realDir);
}

/**
 * Removes what one run left in ComfyUI's folders: the inputs it uploaded, every file its prompt listed
 * (outputs and previews; from the websocket, or /history once the prompt ended) and the run's subfolders
 * of input/ and output/; then the prompt's /history entry (it holds the workflow). Never throws.
 */
export async function removeRunLeftovers(run: {
  comfy: ComfyClient;
  folders: ComfyFolders;
  runFolder: string;
  inputs: Array<{ name: string; subfolder: string }>;
  watcher: PromptWatcher | null;
  log: Logger;
}): Promise<void> {
  try {
    const files: FolderFile[] = run.inputs.map((f) => ({ type: "input", subfolder: f.subfolder, filename: f.name }));
    const w = run.watcher;
    if (w) {
      const outputs = w.isSettled ? await w.outputs(AbortSignal.timeout(5_000)).catch(() => w.wsOutputs) : w.wsOutputs;
      files.push(...fileRefs(outputs));
    }
    const slash = run.runFolder.lastIndexOf("/");
    const own = { subfolder: run.runFolder.slice(0, slash), filename: run.runFolder.slice(slash + 1) };
    const result = await removeRunFiles(
      run.folders,
      files,
      [
        { type: "input", ...own },
        { type: "output", ...own },
      ],
      run.log,
    );
    run.log.debug("removed the run's files from comfyui's folders", { ...result, run_folder: run.runFolder });
    if (w?.isSettled) await run.comfy.deleteHistory([w.promptId], AbortSignal.timeout(5_000));
  } catch (err) {
    run.log.warn("could not remove the run's files from comfyui's folders", { error: err });
  }
}
