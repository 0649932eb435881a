#!/usr/bin/env node
// `npm start`: the whole local stack on http://127.0.0.1:8787.
//   - gateway + queue consumer in one `wrangler dev` (state persisted under .wrangler/state)
//   - D1 migrations applied first
//   - ADMIN_TOKEN from the environment, else generated once into .dev.vars (with SIGNING_SECRET,
//     WEBHOOK_SECRET_KEY and the local object store's S3 credentials: random per install, never committed)
//   - wrangler runs on .dev.wrangler.toml: wrangler.toml plus those S3 credentials (git-ignored)
//   - pool "local" created
//   - one runner for pool "local" (runner/src/main.ts), its token created once and kept in .dev.vars as
//     RUNNER_TOKEN, pointed at COMFYUI_URL (default http://127.0.0.1:8188); it waits if ComfyUI is not up
// Offline-safe: no telemetry, no cf.json fetch.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { isAbsolute, join, relative } from "node:path";
import { DEV_CONFIG, devConfig, newS3Credentials, WELL_KNOWN_S3 } from "./dev-config.mjs";
import { bin, root, run, toolEnv } from "./lib.mjs";

const HOST = "127.0.0.1";
const PORT = Number(process.env.PORT ?? 8787);
const BASE = `http://${HOST}:${PORT}`;
// COMFY_EDGE_STATE_DIR: another state directory (tests that run the real npm start use a scratch one).
const PERSIST = process.env.COMFY_EDGE_STATE_DIR ?? join(root, ".wrangler", "state");
const devVarsPath = join(root, ".dev.vars");
const devConfigPath = join(root, DEV_CONFIG);
const METRICS_PORT = Number(process.env.RUNNER_METRICS_PORT ?? 9464);

function readDevVars() {
  if (!existsSync(devVarsPath)) return {};
  const vars = {};
  for (const line of readFileSync(devVarsPath, "utf8").split("\n")) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*"?(.*?)"?\s*$/.exec(line);
    if (m) vars[m[1]] = m[2];
  }
  return vars;
}

function ensureSecrets() {
  const vars = readDevVars();
  let changed = false;
  let generated = false;
  if (process.env.ADMIN_TOKEN && vars.ADMIN_TOKEN !== process.env.ADMIN_TOKEN) {
    vars.ADMIN_TOKEN = process.env.ADMIN_TOKEN;
    changed = true;
  }
  if (!vars.ADMIN_TOKEN) {
    vars.ADMIN_TOKEN = `adm_${randomBytes(24).toString("base64url")}`;
    changed = generated = true;
  }
  // The local R2 S3 endpoint (presigned URLs, on the API port) checks these: random per install, so nothing
  // that reaches the port can read or write the bucket without them. Installs from before this had the
  // well-known pair committed in wrangler.toml: replace it.
  if (!vars.R2_ACCESS_KEY_ID || !vars.R2_SECRET_ACCESS_KEY || vars.R2_ACCESS_KEY_ID === WELL_KNOWN_S3.accessKeyId) {
    const fresh = newS3Credentials();
    vars.R2_ACCESS_KEY_ID = fresh.accessKeyId;
    vars.R2_SECRET_ACCESS_KEY = fresh.secretAccessKey;
    changed = true;
  }
  if (!vars.SIGNING_SECRET) {
    vars.SIGNING_SECRET = randomBytes(32).toString("base64url");
    changed = true;
  }
  if (!vars.WEBHOOK_SECRET_KEY) {
    vars.WEBHOOK_SECRET_KEY = randomBytes(32).toString("base64url");
    changed = true;
  }
  if (changed) writeDevVars(vars);
  // The consumer reads its own .dev.vars (beside its wrangler.toml): it presigns webhook payload URLs and
  // opens the tenants' webhook secrets. `wrangler dev --var` reaches only the first config, so the local
  // switches the consumer obeys go here too (rewritten on every start: an unset switch is left out).
  const consumerVars = join(root, "workers", "queue-consumer", ".dev.vars");
  const consumerBody =
    ["R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY", "WEBHOOK_SECRET_KEY"].map((k) => `${k}="${vars[k]}"\n`).join("") +
    CONSUMER_SWITCHES.filter((k) => process.env[k])
      .map((k) => `${k}=${JSON.stringify(process.env[k])}\n`)
      .join("");
  if (!existsSync(consumerVars) || readFileSync(consumerVars, "utf8") !== consumerBody) {
    writeFileSync(consumerVars, consumerBody, { mode: 0o600 });
  }
  writeDevConfig(vars);
  return { adminToken: vars.ADMIN_TOKEN, generated };
}

function writeDevConfig(vars) {
  const source = readFileSync(join(root, "wrangler.toml"), "utf8");
  const credentials = { accessKeyId: vars.R2_ACCESS_KEY_ID, secretAccessKey: vars.R2_SECRET_ACCESS_KEY };
  writeFileSync(devConfigPath, devConfig(source, credentials), { mode: 0o600 });
}

/** Resolves when 127.0.0.1:port can be listened on; rejects with a hint naming `variable` otherwise. */
function ensurePortFree(port, variable, what) {
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    return Promise.reject(new Error(`${variable} must be a port number (0-65535), got "${process.env[variable]}".`));
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", (err) => {
      const hint =
        err.code === "EADDRINUSE"
          ? `${HOST}:${port} (${what}) is already in use, perhaps by another npm start. Stop it, or pick another port: ${variable}=${port + 1} npm start`
          : `cannot listen on ${HOST}:${port} (${what}): ${err.message}. Pick another port with ${variable}=<port>.`;
      reject(new Error(hint));
    });
    server.listen(port, HOST, () => server.close(() => resolve()));
  });
}

function writeDevVars(vars) {
  const body = Object.entries(vars)
    .map(([k, v]) => `${k}="${v}"`)
    .join("\n");
  writeFileSync(devVarsPath, `# Local secrets for wrangler dev (generated by npm start; not committed)\n${body}\n`, {
    mode: 0o600,
  });
}

/** Local switches the queue consumer obeys (written into its .dev.vars, see ensureSecrets). */
const CONSUMER_SWITCHES = ["ALLOW_PRIVATE_URLS", "ALLOW_HTTP_URLS", "URL_ALLOWED_PORTS", "WEBHOOK_RETRY_DELAYS_S"];

/** Local-only settings passed to wrangler dev as --var (never in wrangler.toml's production vars). */
function devVars() {
  const pass = [
    "ALLOW_PRIVATE_URLS",
    "ALLOW_HTTP_URLS",
    "LLM_UPSTREAMS",
    "LLM_UPSTREAM_URL",
    "CORS_ALLOWED_ORIGINS",
    "DEFAULT_REQUESTS_PER_MINUTE",
    "WEBHOOK_RETRY_DELAYS_S",
  ];
  const out = [];
  for (const name of pass) if (process.env[name]) out.push("--var", `${name}:${process.env[name]}`);
  return out;
}

async function waitForHealth(child, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with code ${child.exitCode}`);
    try {
      const res = await fetch(`${BASE}/health`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the gateway did not answer ${BASE}/health within ${timeoutMs / 1000} s`);
}

async function ensureLocalPool(adminToken) {
  const res = await fetch(`${BASE}/admin/v1/pools`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "local", region: "local" }),
  });
  if (res.status !== 201 && res.status !== 409)
    throw new Error(`creating pool "local" failed: ${res.status} ${await res.text()}`);
}

/** A state directory as the user can find it: relative to the checkout when inside it. */
function shownPath(dir) {
  const rel = relative(root, dir);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : dir;
}

/** A runner token the gateway accepts (401 = unknown or revoked; 404 = accepted, the lease id is fake). */
async function runnerTokenWorks(token) {
  const res = await fetch(`${BASE}/runner/v1/leases/check/heartbeat`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
  });
  await res.body?.cancel();
  return res.status !== 401 && res.status !== 403;
}

/** The local runner's token: kept in .dev.vars as RUNNER_TOKEN, created once (again if the state was wiped). */
async function ensureRunnerToken(adminToken) {
  const vars = readDevVars();
  if (vars.RUNNER_TOKEN && (await runnerTokenWorks(vars.RUNNER_TOKEN))) return vars.RUNNER_TOKEN;
  const res = await fetch(`${BASE}/admin/v1/runner-tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ pool: "local" }),
  });
  if (res.status !== 201) throw new Error(`creating a runner token failed: ${res.status} ${await res.text()}`);
  const { token } = await res.json();
  writeDevVars({ ...readDevVars(), RUNNER_TOKEN: token });
  return token;
}

async function comfyReachable(url) {
  try {
    const res = await fetch(`${url.replace(/\/+$/, "")}/system_stats`, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/** Starts the runner for pool "local" (its logs, JSON lines, go to this terminal). */
function startRunner(token, comfyUrl) {
  return spawn(process.execPath, [join(root, "runner", "src", "main.ts")], {
    cwd: root,
    // Own process group: Ctrl-C reaches only this script, which stops the runner first (see stop()).
    detached: true,
    stdio: ["ignore", "inherit", "inherit"],
    env: {
      ...process.env,
      GATEWAY_URL: BASE,
      RUNNER_TOKEN: token,
      COMFYUI_URL: comfyUrl,
      RUNNER_ID: process.env.RUNNER_ID ?? "local-runner",
      METRICS_PORT: String(METRICS_PORT),
      LOG_LEVEL: process.env.RUNNER_LOG_LEVEL ?? "info",
      DRAIN_TIMEOUT_S: "5",
      // Model assets (docs/models.md): ComfyUI's models folder, COMFYUI_MODELS_DIR or else COMFYUI_DIR/models.
      COMFYUI_MODELS_DIR:
        process.env.COMFYUI_MODELS_DIR || (process.env.COMFYUI_DIR ? join(process.env.COMFYUI_DIR, "models") : ""),
      // Warm starts skip TypeScript stripping (less memory, faster start).
      NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? join(root, ".wrangler", "node-compile-cache"),
    },
  });
}

function printNextSteps(adminToken, generated) {
  const lines = [
    "",
    `comfy-edge is running at ${BASE}  (API reference: ${BASE}/docs)`,
    `Web console: ${BASE}/console  (sign in with an API key, or the admin token for the operator view)`,
    `Admin token${generated ? " (generated into .dev.vars)" : ""}: ${adminToken}`,
    "",
    "Next, in another terminal, create a tenant and an API key:",
    `  export COMFY_EDGE_URL=${BASE} COMFY_EDGE_ADMIN_TOKEN=${adminToken}`,
    "  npm run cli -- tenants create --name demo            # prints the tenant id",
    "  npm run cli -- keys create --tenant <tenant id> --scopes llm,jobs   # prints the key once",
    `  curl ${BASE}/v1/pools -H "Authorization: Bearer <key>"`,
    `  then open ${BASE}/console and paste the key`,
    "",
    `Press Ctrl+C to stop. State persists in ${shownPath(PERSIST)}.`,
    "",
  ];
  console.log(lines.join("\n"));
}

async function main() {
  await ensurePortFree(PORT, "PORT", "the API");
  await ensurePortFree(METRICS_PORT, "RUNNER_METRICS_PORT", "the local runner's health and metrics");
  const { adminToken, generated } = ensureSecrets();
  // LLM_UPSTREAMS / LLM_UPSTREAM_URL are checked now (a broken one stops the start) and listed at the end.
  const { llmStartupReport } = await import("../workers/gateway/src/llm/startup.ts");
  const secrets = readDevVars();
  const llm = llmStartupReport(process.env, (name) => Boolean(process.env[name] || secrets[name]));
  if (!llm.ok) throw new Error(llm.reason);
  if (process.env.ALLOW_PRIVATE_URLS === "true") {
    console.warn(
      "[comfy-edge] WARNING: ALLOW_PRIVATE_URLS=true: URLs may point at loopback and private addresses. Local development only.",
    );
  }
  const migrate = await run(
    bin("wrangler"),
    ["d1", "migrations", "apply", "DB", "--local", "--persist-to", PERSIST, "-c", "wrangler.toml"],
    {
      env: toolEnv({ CI: "true" }),
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  if (migrate !== 0) throw new Error("applying D1 migrations failed");

  const wrangler = spawn(
    bin("wrangler"),
    [
      "dev",
      "-c",
      DEV_CONFIG,
      "-c",
      "workers/queue-consumer/wrangler.toml",
      "--ip",
      HOST,
      "--port",
      String(PORT),
      "--persist-to",
      PERSIST,
      "--show-interactive-dev-session=false",
      "--log-level",
      process.env.WRANGLER_LOG ?? "warn",
      ...devVars(),
    ],
    // Own process group, like the runner: the gateway must outlive the runner's give-back.
    { cwd: root, detached: true, stdio: ["ignore", "inherit", "inherit"], env: toolEnv() },
  );
  let stopping = false;
  let stoppedAt = 0;
  let runner = null;
  // Detached children do not die with this script: take them along if it exits any other way.
  process.on("exit", () => {
    for (const child of [runner, wrangler]) if (child && child.exitCode === null) child.kill("SIGKILL");
  });
  const stop = (signal) => {
    if (stopping) {
      // npm forwards the same Ctrl-C the terminal already sent: only a later one means "now".
      if (Date.now() - stoppedAt < 1_000) return;
      runner?.kill("SIGKILL");
      wrangler.kill("SIGKILL");
      return;
    }
    stopping = true;
    stoppedAt = Date.now();
    // The runner first (it gives running jobs back to the gateway), then the gateway.
    if (runner && runner.exitCode === null) {
      runner.once("exit", () => wrangler.kill(signal));
      runner.kill(signal);
    } else wrangler.kill(signal);
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  wrangler.on("exit", (code) => {
    const exit = () => process.exit(stopping ? 0 : (code ?? 1));
    if (!runner || runner.exitCode !== null || runner.signalCode !== null) return exit();
    // Let the runner finish stopping (it drains for up to 5 s), then leave.
    runner.once("exit", exit);
    if (!stopping) runner.kill("SIGTERM");
    setTimeout(() => {
      runner.kill("SIGKILL");
      exit();
    }, 10_000).unref();
  });

  await waitForHealth(wrangler);
  await ensureLocalPool(adminToken);
  const runnerToken = await ensureRunnerToken(adminToken);
  const comfyUrl = process.env.COMFYUI_URL ?? "http://127.0.0.1:8188";
  const comfyUp = await comfyReachable(comfyUrl.split(",")[0]);
  if (!stopping) {
    runner = startRunner(runnerToken, comfyUrl);
    runner.on("exit", (code, signal) => {
      if (!stopping) {
        console.error(`[comfy-edge] the runner stopped (${signal ?? `exit code ${code}`}); jobs wait in the queue.`);
      }
    });
  }
  printNextSteps(adminToken, generated);
  console.log(llm.lines.join("\n"));
  const metrics = `http://127.0.0.1:${METRICS_PORT}`;
  console.log(
    comfyUp
      ? `Runner for pool "local": ComfyUI at ${comfyUrl} (runner health ${metrics}/readyz, metrics ${metrics}/metrics).`
      : [
          `[comfy-edge] ComfyUI is NOT reachable at ${comfyUrl}: jobs stay queued until it is.`,
          "  Start ComfyUI (python main.py --listen 127.0.0.1 --port 8188), or set COMFYUI_URL and restart npm start.",
          "  The runner keeps checking and takes jobs as soon as ComfyUI answers.",
          "",
        ].join("\n"),
  );
}

main().catch((err) => {
  console.error(`[comfy-edge] ${err.message}`);
  process.exit(1);
});
