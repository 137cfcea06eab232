// The SDK's self-test: a check that runs the SDK's functions against the
// targets its arguments name and reports what went wrong. sdk_test.go
// builds it and runs it in a wasm.Runtime against servers on 127.0.0.1.
//
// Arguments: {"http": URL answering {"status":"ok"}, "echo": URL echoing
// POST bodies, "big": URL answering 10 KB, "denied_url": URL not granted,
// "tcp": address answering +PONG, "denied_tcp": address not granted}, or
// {"abort": true} to fail an index check.

import {
  CRITICAL, ERR_DENIED, ERR_INVALID, LOG_INFO, OK, PASSING,
  HttpRequest, JSONValue,
  args, argsRaw, dnsLookup, errorName, httpGet, httpRequest, log, nowMs, parseJSON, quote,
  setOutput, tcpConnect,
} from "../assembly/index";

let failures: string[] = [];
let count = 0;

function expect(ok: bool, what: string): void {
  count++;
  if (!ok) failures.push(what);
}

function eq(got: string, want: string, what: string): void {
  count++;
  if (got != want) failures.push(what + ": got " + quote(got) + ", want " + quote(want));
}

function header(h: Map<string, string>, name: string): string {
  return h.has(name) ? h.get(name) : "(none)";
}

export function check(): i32 {
  failures = [];
  count = 0;
  const a = args();
  if (a == null || !a.isObject) {
    setOutput("selftest: bad arguments " + argsRaw());
    return CRITICAL;
  }
  if (a.get("abort") != null) {
    const none: i32[] = [];
    return none[1];
  }
  testJSON();
  testHost(a);
  if (failures.length == 0) {
    setOutput("selftest: " + count.toString() + " checks passed");
    return PASSING;
  }
  setOutput("selftest: " + failures.length.toString() + " of " + count.toString() + " checks failed:\n" + failures.join("\n"));
  return CRITICAL;
}

function testJSON(): void {
  const v = parseJSON(" {\"a\": [1, -2.5e2, 0.5, \"x\\u00e9\\n\\\"\", true, null], \"b\": {\"c\": {}, \"d\": []}} ");
  expect(v != null, "parse a valid document");
  if (v != null) {
    eq(v.toString(), "{\"a\":[1,-250,0.5,\"xé\\n\\\"\",true,null],\"b\":{\"c\":{},\"d\":[]}}", "round trip");
    expect(v.path("b.c") != null && v.path("b.c")!.isObject, "path b.c");
    expect(v.path("b.x") == null && v.path("a.b") == null, "missing paths");
    eq(v.getString("a", "def"), "def", "getString of a non-string");
    expect(v.getNumber("zz", 7) == 7, "getNumber default");
  }
  const nested = parseJSON("{\"a\":{\"b\":{\"c\":\"d\"}},\"a\":{\"b\":{\"c\":\"e\"}}}");
  eq(nested != null && nested.path("a.b.c") != null ? nested.path("a.b.c")!.str : "(null)", "e", "the last of repeated keys");
  const emoji = parseJSON("\"\\ud83d\\ude00\"");
  eq(emoji != null ? emoji.str : "(null)", "😀", "surrogate pair escape");
  const num = parseJSON("1e3");
  expect(num != null && num.isNumber && num.num == 1000, "exponent");
  const invalid = ["", " ", "{", "[1,]", "{\"a\":1,}", "tru", "nul", "\"a", "{\"a\" 1}", "1 2", "\"\\x\"",
    "\"\u0001\"", "-", "1.", "1e", "[\"\\u12\"]", "{1:2}", "]"];
  for (let i = 0; i < invalid.length; i++) {
    expect(parseJSON(invalid[i]) == null, "refuse " + quote(invalid[i]));
  }
  let deep = "";
  for (let i = 0; i < 100; i++) deep += "[";
  expect(parseJSON(deep) == null, "refuse deep nesting");
  eq(quote("a\"b\\c\n\r\t\u0001é"), "\"a\\\"b\\\\c\\n\\r\\t\\u0001é\"", "quote");
  const s = JSONValue.fromString("x");
  eq(s.toString(), "\"x\"", "fromString");
}

function testHost(a: JSONValue): void {
  expect(nowMs() > 1600000000000, "nowMs");
  expect(log(LOG_INFO, "selftest log") == OK, "log");
  expect(log(9, "bad level") == ERR_INVALID, "log level 9");
  eq(errorName(ERR_DENIED), "denied", "errorName");
  expect(argsRaw().startsWith("{"), "argsRaw");

  const ok = httpGet(a.getString("http"), 5000);
  expect(ok.error == OK, "GET: error " + errorName(ok.error));
  expect(ok.status == 200, "GET: status " + ok.status.toString());
  eq(ok.body, "{\"status\":\"ok\"}", "GET: body");
  eq(header(ok.headers, "Content-Type"), "application/json", "GET: Content-Type");
  expect(!ok.truncated, "GET: not truncated");

  const post = new HttpRequest(a.getString("echo"));
  post.method = "POST";
  post.body = "héllo \"there\"\n";
  post.headers.set("X-Test", "yes");
  const echo = httpRequest(post);
  expect(echo.error == OK, "POST: error " + errorName(echo.error));
  eq(echo.body, "héllo \"there\"\n", "POST: body echoed");
  eq(header(echo.headers, "X-Method"), "POST", "POST: method");
  eq(header(echo.headers, "X-Test"), "yes", "POST: header sent");

  const small = new HttpRequest(a.getString("big"));
  small.maxResponse = 200;
  const big = httpRequest(small);
  expect(big.error == OK && big.status == 200 && big.truncated, "small buffer: truncated");
  expect(big.body.length > 0 && big.body.length < 200, "small buffer: body cut, " + big.body.length.toString());

  expect(httpGet(a.getString("denied_url")).error == ERR_DENIED, "GET not granted");

  const pong = tcpConnect(a.getString("tcp"), "PING\r\n", 64, 5000);
  expect(pong.error == OK, "tcp: error " + errorName(pong.error));
  eq(pong.text(), "+PONG\r\n", "tcp: answer");
  expect(tcpConnect(a.getString("denied_tcp"), "", 0).error == ERR_DENIED, "tcp not granted");

  const dns = dnsLookup("localhost");
  expect(dns.error == OK, "dns: error " + errorName(dns.error));
  expect(dns.addresses.includes("127.0.0.1"), "dns: localhost is 127.0.0.1, got " + dns.addresses.join(","));
  expect(dnsLookup("db.internal").error == ERR_DENIED, "dns not granted");
}
