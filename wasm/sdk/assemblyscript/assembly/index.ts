// Meridian health checks in AssemblyScript: the Meridian WASM ABI v1
// (docs/wasm-abi.md) as functions. A check module exports
//
//   export function check(): i32
//
// returning PASSING, WARNING or CRITICAL, and builds with this folder's
// asconfig.json (which handles abort; see README.md).

import { JSONValue, parseJSON, quote } from "./json";

export { JSONKind, JSONValue, parseJSON, quote } from "./json";

// ---- the host functions (module "meridian") ----

@external("meridian", "set_output")
declare function host_set_output(ptr: usize, len: usize): i32;

@external("meridian", "log")
declare function host_log(level: i32, ptr: usize, len: usize): i32;

@external("meridian", "args_len")
declare function host_args_len(): i32;

@external("meridian", "args_read")
declare function host_args_read(ptr: usize, len: usize): i32;

@external("meridian", "now_ms")
declare function host_now_ms(): i64;

@external("meridian", "http_request")
declare function host_http_request(reqPtr: usize, reqLen: usize, respPtr: usize, respCap: usize): i32;

@external("meridian", "tcp_connect")
declare function host_tcp_connect(addrPtr: usize, addrLen: usize, sendPtr: usize, sendLen: usize, recvPtr: usize, recvCap: usize, timeoutMs: i32): i32;

@external("meridian", "dns_lookup")
declare function host_dns_lookup(namePtr: usize, nameLen: usize, outPtr: usize, outCap: usize): i32;

// ---- statuses, error codes, log levels ----

/** Statuses a check returns. */
export const PASSING: i32 = 0;
export const WARNING: i32 = 1;
export const CRITICAL: i32 = 2;

/** No error. */
export const OK: i32 = 0;
/** The target is not granted to the check. */
export const ERR_DENIED: i32 = -1;
/** The call's timeout, or the check's deadline, passed. */
export const ERR_TIMEOUT: i32 = -2;
/** Connection refused or reset, DNS failure, TLS or HTTP protocol error. */
export const ERR_NETWORK: i32 = -3;
/** A buffer cannot hold the answer. */
export const ERR_TOO_SMALL: i32 = -4;
/** A malformed request, a bad address or name, an unknown log level. */
export const ERR_INVALID: i32 = -5;
/** A per-run limit is spent (network bytes, log records). */
export const ERR_LIMIT: i32 = -6;
/** The host's answer could not be read (not from a runtime that implements the ABI). */
export const ERR_BAD_ANSWER: i32 = -100;

/** The name of an error code ("denied", "timeout", ...). */
export function errorName(code: i32): string {
  switch (code) {
    case OK: return "ok";
    case ERR_DENIED: return "denied";
    case ERR_TIMEOUT: return "timeout";
    case ERR_NETWORK: return "network error";
    case ERR_TOO_SMALL: return "buffer too small";
    case ERR_INVALID: return "invalid request";
    case ERR_LIMIT: return "limit reached";
    case ERR_BAD_ANSWER: return "malformed answer";
  }
  return "error " + code.toString();
}

export const LOG_DEBUG: i32 = 0;
export const LOG_INFO: i32 = 1;
export const LOG_WARN: i32 = 2;
export const LOG_ERROR: i32 = 3;

// ---- helpers ----

function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

function ptr(b: ArrayBuffer): usize {
  return changetype<usize>(b);
}

function decode(b: ArrayBuffer, n: i32): string {
  return String.UTF8.decodeUnsafe(changetype<usize>(b), <usize>n);
}

// ---- output, log, arguments, clock ----

/**
 * Sets the check's output text, replacing what an earlier call set. The
 * runtime cuts it to the output cap (4 KiB by default) and appends its own
 * notes. Returns the bytes kept.
 */
export function setOutput(text: string): i32 {
  const b = utf8(text);
  return host_set_output(ptr(b), <usize>b.byteLength);
}

/** Writes a record to the agent's log: OK, ERR_INVALID or ERR_LIMIT (32 per run). */
export function log(level: i32, message: string): i32 {
  const b = utf8(message);
  return host_log(level, ptr(b), <usize>b.byteLength);
}

/** The check's arguments as JSON text ("" when there are none). */
export function argsRaw(): string {
  const n = host_args_len();
  if (n <= 0) return "";
  const b = new ArrayBuffer(n);
  const got = host_args_read(ptr(b), <usize>n);
  return got >= 0 ? decode(b, got) : "";
}

/**
 * The check's arguments, parsed: null when they are not valid JSON, a
 * JSON null when there are none.
 */
export function args(): JSONValue | null {
  const raw = argsRaw();
  if (raw.length == 0) return JSONValue.null();
  return parseJSON(raw);
}

/** The agent's wall clock, in milliseconds since the Unix epoch. */
export function nowMs(): i64 {
  return host_now_ms();
}

// ---- HTTP ----

/** An HTTP request (http_request). The URL must be granted. */
export class HttpRequest {
  method: string = "GET";
  url: string = "";
  headers: Map<string, string> = new Map<string, string>();
  /** A text body; none when empty. */
  body: string = "";
  /** The call's own timeout; 0: the rest of the check's deadline. */
  timeoutMs: i32 = 0;
  /** The answer's buffer: the body plus a few hundred bytes of status and headers. */
  maxResponse: i32 = 65536;

  constructor(url: string = "") {
    this.url = url;
  }

  /** The ABI's request JSON. */
  toJSON(): string {
    let s = "{\"method\":" + quote(this.method) + ",\"url\":" + quote(this.url);
    const names = this.headers.keys();
    if (names.length > 0) {
      s += ",\"headers\":{";
      for (let i = 0; i < names.length; i++) {
        if (i > 0) s += ",";
        s += quote(names[i]) + ":" + quote(this.headers.get(names[i]));
      }
      s += "}";
    }
    if (this.body.length > 0) s += ",\"body\":" + quote(this.body);
    if (this.timeoutMs > 0) s += ",\"timeout_ms\":" + this.timeoutMs.toString();
    return s + "}";
  }
}

/** The answer to an HTTP request; error is OK or an ERR_* code. */
export class HttpResponse {
  error: i32 = OK;
  /** The HTTP status of the final response (after redirects). */
  status: i32 = 0;
  /** One value per name, several joined with ", ". */
  headers: Map<string, string> = new Map<string, string>();
  /** The body as text (bytes that are not UTF-8 become U+FFFD). */
  body: string = "";
  /** The body was cut to fit maxResponse (or the headers dropped). */
  truncated: bool = false;

  static failed(code: i32): HttpResponse {
    const r = new HttpResponse();
    r.error = code;
    return r;
  }
}

/** Makes an HTTP/1.1 request. An HTTP error status is not an error: see status. */
export function httpRequest(req: HttpRequest): HttpResponse {
  const body = utf8(req.toJSON());
  const cap = max(req.maxResponse, 64);
  const out = new ArrayBuffer(cap);
  const n = host_http_request(ptr(body), <usize>body.byteLength, ptr(out), <usize>cap);
  if (n < 0) return HttpResponse.failed(n);
  const v = parseJSON(decode(out, min(n, cap)));
  if (v == null || !v.isObject) return HttpResponse.failed(ERR_BAD_ANSWER);
  const r = new HttpResponse();
  r.status = <i32>v.getNumber("status");
  r.body = v.getString("body");
  const t = v.get("truncated");
  r.truncated = t != null && t.isBool && t.bool;
  const h = v.get("headers");
  if (h != null && h.isObject) {
    for (let i = 0; i < h.keys.length; i++) {
      if (h.items[i].isString) r.headers.set(h.keys[i], h.items[i].str);
    }
  }
  return r;
}

/** A GET of url. */
export function httpGet(url: string, timeoutMs: i32 = 0): HttpResponse {
  const req = new HttpRequest(url);
  req.timeoutMs = timeoutMs;
  return httpRequest(req);
}

// ---- TCP ----

/** What tcpConnect received; error is OK or an ERR_* code. */
export class TcpResult {
  error: i32 = OK;
  data: Uint8Array = new Uint8Array(0);

  /** The bytes received, as UTF-8 text. */
  text(): string {
    return String.UTF8.decodeUnsafe(this.data.dataStart, <usize>this.data.length);
  }
}

/**
 * Connects to addr ("host:port", granted), sends send (if not empty), and
 * with readMax > 0 reads once: what the peer sent first, at most readMax
 * bytes. timeoutMs 0: the rest of the check's deadline.
 */
export function tcpConnect(addr: string, send: string, readMax: i32, timeoutMs: i32 = 0): TcpResult {
  return tcpConnectBytes(addr, Uint8Array.wrap(utf8(send)), readMax, timeoutMs);
}

/** tcpConnect with bytes to send. */
export function tcpConnectBytes(addr: string, send: Uint8Array, readMax: i32, timeoutMs: i32 = 0): TcpResult {
  const a = utf8(addr);
  const recv = new Uint8Array(max(readMax, 0));
  const n = host_tcp_connect(ptr(a), <usize>a.byteLength, send.dataStart, <usize>send.length,
    recv.dataStart, <usize>recv.length, timeoutMs);
  const r = new TcpResult();
  if (n < 0) {
    r.error = n;
    return r;
  }
  r.data = recv.subarray(0, min(n, recv.length));
  return r;
}

// ---- DNS ----

/** What dnsLookup answered; error is OK or an ERR_* code. */
export class DnsResult {
  error: i32 = OK;
  addresses: string[] = [];
}

/** Resolves name's A and AAAA addresses (the name must be granted). */
export function dnsLookup(name: string): DnsResult {
  const n = utf8(name);
  const cap = 4096;
  const out = new ArrayBuffer(cap);
  const got = host_dns_lookup(ptr(n), <usize>n.byteLength, ptr(out), <usize>cap);
  const r = new DnsResult();
  if (got < 0) {
    r.error = got;
    return r;
  }
  const v = parseJSON(decode(out, min(got, cap)));
  if (v == null || !v.isArray) {
    r.error = ERR_BAD_ANSWER;
    return r;
  }
  for (let i = 0; i < v.items.length; i++) {
    if (v.items[i].isString) r.addresses.push(v.items[i].str);
  }
  return r;
}
