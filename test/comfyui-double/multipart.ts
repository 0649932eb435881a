/**
 * multipart/form-data (and urlencoded) body parsing the way aiohttp's request.post() presents it to ComfyUI:
 * parts with a (non-empty) filename become files, others text fields; quoted Content-Disposition values are
 * backslash-unescaped and lose leading slashes/backslashes; `filename*` (RFC 5987) wins over `filename`.
 */

export interface FormFile {
  filename: string;
  contentType: string | undefined;
  bytes: Uint8Array;
}

export type FormValue = string | FormFile;

function parseParams(header: string): { value: string; params: Record<string, string> } {
  const params: Record<string, string> = {};
  let i = header.indexOf(";");
  const value = (i < 0 ? header : header.slice(0, i)).trim().toLowerCase();
  while (i >= 0 && i < header.length) {
    i++;
    while (header[i] === " " || header[i] === "\t") i++;
    const eq = header.indexOf("=", i);
    if (eq < 0) break;
    const name = header.slice(i, eq).trim().toLowerCase();
    let j = eq + 1;
    let v = "";
    if (header[j] === '"') {
      j++;
      while (j < header.length && header[j] !== '"') {
        if (header[j] === "\\" && j + 1 < header.length) j++;
        v += header[j];
        j++;
      }
      j++;
      v = v.replace(/^[\\/]+/, "");
    } else {
      const end = header.indexOf(";", j);
      v = (end < 0 ? header.slice(j) : header.slice(j, end)).trim();
      j = end < 0 ? header.length : end;
    }
    if (name.endsWith("*")) {
      const m = /^([^']*)'[^']*'(.*)$/.exec(v);
      if (m) {
        try {
          v = decodeURIComponent(m[2] as string);
        } catch {
          // keep raw
        }
      }
    }
    params[name] = v;
    i = header.indexOf(";", j);
  }
  return { value, params };
}

function indexOf(hay: Buffer, needle: Buffer, from: number): number {
  return hay.indexOf(needle, from);
}

/** Returns the form fields (first value per name), or undefined when the body is not a form. */
export function parseForm(body: Buffer, contentTypeHeader: string | undefined): Map<string, FormValue> | undefined {
  const fields = new Map<string, FormValue>();
  const ct = parseParams(contentTypeHeader ?? "");
  if (ct.value === "application/x-www-form-urlencoded") {
    for (const [k, v] of new URLSearchParams(body.toString("utf8"))) if (!fields.has(k)) fields.set(k, v);
    return fields;
  }
  if (ct.value !== "multipart/form-data") return fields;
  const boundary = ct.params.boundary;
  if (!boundary) return undefined;
  const delimiter = Buffer.from(`--${boundary}`);
  let pos = indexOf(body, delimiter, 0);
  if (pos < 0) return undefined;
  while (pos >= 0) {
    pos += delimiter.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break; // closing "--"
    if (body[pos] === 0x0d && body[pos + 1] === 0x0a) pos += 2;
    const headerEnd = indexOf(body, Buffer.from("\r\n\r\n"), pos);
    if (headerEnd < 0) return undefined;
    const headers = new Map<string, string>();
    for (const line of body.toString("utf8", pos, headerEnd).split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const next = indexOf(body, Buffer.concat([Buffer.from("\r\n"), delimiter]), headerEnd + 4);
    if (next < 0) return undefined;
    const data = body.subarray(headerEnd + 4, next);
    const disposition = parseParams(headers.get("content-disposition") ?? "");
    const name = disposition.params.name;
    if (name !== undefined && !fields.has(name)) {
      const filename = disposition.params["filename*"] ?? disposition.params.filename;
      if (filename) {
        fields.set(name, { filename, contentType: headers.get("content-type"), bytes: new Uint8Array(data) });
      } else fields.set(name, data.toString("utf8"));
    }
    pos = next + 2;
  }
  return fields;
}
