#!/usr/bin/env node
// `npm start`: local edge-orchestra on its embedded defaults, no cloud account.
// 1. .dev.vars from the committed .dev.vars.example when absent; 2. local D1 migrations; 3. wrangler dev on 127.0.0.1:8787.
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const wrangler = path.join(root, "node_modules", ".bin", "wrangler");
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };
const port = process.env.PORT ?? "8787";

if (!existsSync(path.join(root, ".dev.vars"))) {
  copyFileSync(path.join(root, ".dev.vars.example"), path.join(root, ".dev.vars"));
  console.log("created .dev.vars from .dev.vars.example (local defaults; edit it to change secrets)");
}

const mig = spawnSync(wrangler, ["d1", "migrations", "apply", "DB", "--local"], { cwd: root, env, stdio: "inherit" });
if (mig.status !== 0) process.exit(mig.status ?? 1);

const dev = spawn(wrangler, ["dev", "--ip", "127.0.0.1", "--port", port, ...process.argv.slice(2)], { cwd: root, env, stdio: "inherit" });
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => dev.kill("SIGINT"));
dev.on("exit", (code) => process.exit(code ?? 0));
