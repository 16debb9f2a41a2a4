// What the benchmark scripts read from the worker's development settings (.dev.vars.example).

import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";

/// NAME="value" lines of a dotenv file.
export function devVars(path) {
  const vars = {};
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const match = /^([A-Z_]+)="?(.*?)"?$/.exec(line.trim());
    if (match) vars[match[1]] = match[2];
  }
  return vars;
}

/// The Ed25519 key from its base64 32-byte seed (PKCS#8 DER: a fixed prefix, then the seed).
export function ed25519Key(seedBase64) {
  const prefix = Buffer.from("302e020100300506032b657004220420", "hex");
  return createPrivateKey({ key: Buffer.concat([prefix, Buffer.from(seedBase64, "base64")]), format: "der", type: "pkcs8" });
}
