// httpjson_as is a Meridian health check in AssemblyScript, the twin of
// the Go example httpjson: it GETs a JSON health endpoint and looks at one
// field of the answer.
//
// Arguments (JSON):
//
//   {
//     "url": "http://127.0.0.1:8080/health",  required, and granted
//     "field": "status",                      default "status"; "a.b" for nested objects
//     "want": "ok",                           default "ok"
//     "warn": ["degraded", "warn"],           default; values that make it warning
//     "timeout_ms": 2000                      default: the check's deadline
//   }
//
// Passing when the answer is a 2xx whose field equals want; warning when
// it equals one of warn; critical otherwise. A field that is not a string
// is compared as JSON: "want": "true" matches true.
//
// Build (from wasm/sdk/assemblyscript, after npm ci):
//   npx asc ../../examples/httpjson_as/index.ts --config asconfig.json -o httpjson_as.wasm

import {
  CRITICAL, ERR_DENIED, PASSING, WARNING,
  HttpRequest, JSONValue,
  args, argsRaw, errorName, httpRequest, parseJSON, setOutput,
} from "../../sdk/assemblyscript/assembly/index";

export function check(): i32 {
  const a = args();
  if (a == null || !a.isObject || a.getString("url") == "") {
    setOutput("bad arguments " + argsRaw() + ": want {\"url\": \"http://...\", \"field\": \"status\", \"want\": \"ok\"}");
    return CRITICAL;
  }
  const url = a.getString("url");
  const field = a.getString("field", "status");
  const want = a.getString("want", "ok");
  let warn: string[] = ["degraded", "warn"];
  const w = a.get("warn");
  if (w != null && w.isArray) {
    warn = [];
    for (let i = 0; i < w.items.length; i++) {
      if (w.items[i].isString) warn.push(w.items[i].str);
    }
  }

  const req = new HttpRequest(url);
  req.headers.set("Accept", "application/json");
  req.timeoutMs = <i32>a.getNumber("timeout_ms", 0);
  const resp = httpRequest(req);
  if (resp.error != 0) {
    // The runtime's own line says why (refused, timed out, ...).
    setOutput("GET " + url + ": " + (resp.error == ERR_DENIED ? "not granted" : errorName(resp.error)));
    return CRITICAL;
  }
  if (resp.status < 200 || resp.status > 299) {
    setOutput("GET " + url + ": HTTP " + resp.status.toString() + ": " + snippet(resp.body));
    return CRITICAL;
  }
  const doc = parseJSON(resp.body);
  if (doc == null) {
    setOutput("GET " + url + ": HTTP " + resp.status.toString() + ", not JSON: " + snippet(resp.body));
    return CRITICAL;
  }
  const v = doc.path(field);
  if (v == null) {
    setOutput("GET " + url + ": HTTP " + resp.status.toString() + ", no field " + quoted(field) + " in " + snippet(resp.body));
    return CRITICAL;
  }
  const got = text(v);
  if (got == want) {
    setOutput("GET " + url + ": " + field + " = " + quoted(got));
    return PASSING;
  }
  if (warn.includes(got)) {
    setOutput("GET " + url + ": " + field + " = " + quoted(got) + " (want " + quoted(want) + ")");
    return WARNING;
  }
  setOutput("GET " + url + ": " + field + " = " + quoted(got) + ", want " + quoted(want));
  return CRITICAL;
}

/** A string as it is, anything else as JSON. */
function text(v: JSONValue): string {
  return v.isString ? v.str : v.toString();
}

function quoted(s: string): string {
  return "\"" + s + "\"";
}

/** The start of a body, for the output. */
function snippet(body: string): string {
  return body.length > 200 ? quoted(body.substring(0, 200)) + "..." : quoted(body);
}
