// A small JSON reader and writer: enough for a check's arguments and the
// host's answers. AssemblyScript has no JSON of its own.

export enum JSONKind {
  Null,
  Bool,
  Number,
  String,
  Array,
  Object,
}

/** A JSON value. Objects keep their keys in order. */
export class JSONValue {
  kind: JSONKind = JSONKind.Null;
  bool: bool = false;
  num: f64 = 0;
  str: string = "";
  items: JSONValue[] = [];
  keys: string[] = [];

  static null(): JSONValue {
    return new JSONValue();
  }

  static fromBool(b: bool): JSONValue {
    const v = new JSONValue();
    v.kind = JSONKind.Bool;
    v.bool = b;
    return v;
  }

  static fromNumber(n: f64): JSONValue {
    const v = new JSONValue();
    v.kind = JSONKind.Number;
    v.num = n;
    return v;
  }

  static fromString(s: string): JSONValue {
    const v = new JSONValue();
    v.kind = JSONKind.String;
    v.str = s;
    return v;
  }

  get isNull(): bool { return this.kind == JSONKind.Null; }
  get isBool(): bool { return this.kind == JSONKind.Bool; }
  get isNumber(): bool { return this.kind == JSONKind.Number; }
  get isString(): bool { return this.kind == JSONKind.String; }
  get isArray(): bool { return this.kind == JSONKind.Array; }
  get isObject(): bool { return this.kind == JSONKind.Object; }

  /** The member named key of an object (the last one if repeated), or null. */
  get(key: string): JSONValue | null {
    if (this.kind != JSONKind.Object) return null;
    for (let i = this.keys.length - 1; i >= 0; i--) {
      if (this.keys[i] == key) return this.items[i];
    }
    return null;
  }

  /** The value at a dotted path of object members ("checks.db.status"), or null. */
  path(dotted: string): JSONValue | null {
    let v: JSONValue | null = this;
    const parts = dotted.split(".");
    for (let i = 0; i < parts.length; i++) {
      if (v == null) return null;
      v = v.get(parts[i]);
    }
    return v;
  }

  /** A member's string value, or def if it is absent or not a string. */
  getString(key: string, def: string = ""): string {
    const v = this.get(key);
    return v != null && v.isString ? v.str : def;
  }

  /** A member's number value, or def if it is absent or not a number. */
  getNumber(key: string, def: f64 = 0): f64 {
    const v = this.get(key);
    return v != null && v.isNumber ? v.num : def;
  }

  /** The value as JSON text. */
  toString(): string {
    switch (this.kind) {
      case JSONKind.Null: return "null";
      case JSONKind.Bool: return this.bool ? "true" : "false";
      case JSONKind.Number: {
        if (!isFinite(this.num)) return "null";
        if (this.num == Math.floor(this.num) && Math.abs(this.num) < 1e15) {
          return (<i64>this.num).toString();
        }
        return this.num.toString();
      }
      case JSONKind.String: return quote(this.str);
      case JSONKind.Array: {
        let s = "[";
        for (let i = 0; i < this.items.length; i++) {
          if (i > 0) s += ",";
          s += this.items[i].toString();
        }
        return s + "]";
      }
    }
    let s = "{";
    for (let i = 0; i < this.keys.length; i++) {
      if (i > 0) s += ",";
      s += quote(this.keys[i]) + ":" + this.items[i].toString();
    }
    return s + "}";
  }
}

/** s as a JSON string literal, quotes included. */
export function quote(s: string): string {
  let out = "\"";
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c != 0x22 && c != 0x5c) continue;
    out += s.substring(start, i);
    start = i + 1;
    if (c == 0x22) out += "\\\"";
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x0d) out += "\\r";
    else if (c == 0x09) out += "\\t";
    else out += "\\u00" + hexDigit(c >> 4) + hexDigit(c & 0xf);
  }
  return out + s.substring(start) + "\"";
}

function hexDigit(n: i32): string {
  return String.fromCharCode(n < 10 ? 0x30 + n : 0x57 + n);
}

/** Parses JSON text; null if it is not valid JSON (one value, then only spaces). */
export function parseJSON(text: string): JSONValue | null {
  const p = new Parser(text);
  const v = p.value(0);
  if (v == null) return null;
  p.space();
  return p.pos == text.length ? v : null;
}

const maxDepth = 64;

class Parser {
  pos: i32 = 0;
  constructor(public s: string) {}

  space(): void {
    while (this.pos < this.s.length) {
      const c = this.s.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.pos++;
    }
  }

  peek(): i32 {
    return this.pos < this.s.length ? this.s.charCodeAt(this.pos) : -1;
  }

  literal(word: string): bool {
    if (this.s.substr(this.pos, word.length) != word) return false;
    this.pos += word.length;
    return true;
  }

  value(depth: i32): JSONValue | null {
    if (depth > maxDepth) return null;
    this.space();
    const c = this.peek();
    if (c == 0x7b) return this.object(depth);
    if (c == 0x5b) return this.array(depth);
    if (c == 0x22) {
      const s = this.string();
      return s == null ? null : JSONValue.fromString(s);
    }
    if (c == 0x74) return this.literal("true") ? JSONValue.fromBool(true) : null;
    if (c == 0x66) return this.literal("false") ? JSONValue.fromBool(false) : null;
    if (c == 0x6e) return this.literal("null") ? JSONValue.null() : null;
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    return null;
  }

  object(depth: i32): JSONValue | null {
    const v = new JSONValue();
    v.kind = JSONKind.Object;
    this.pos++; // {
    this.space();
    if (this.peek() == 0x7d) {
      this.pos++;
      return v;
    }
    while (true) {
      this.space();
      if (this.peek() != 0x22) return null;
      const key = this.string();
      if (key == null) return null;
      this.space();
      if (this.peek() != 0x3a) return null;
      this.pos++;
      const item = this.value(depth + 1);
      if (item == null) return null;
      v.keys.push(key);
      v.items.push(item);
      this.space();
      const c = this.peek();
      this.pos++;
      if (c == 0x7d) return v;
      if (c != 0x2c) return null;
    }
  }

  array(depth: i32): JSONValue | null {
    const v = new JSONValue();
    v.kind = JSONKind.Array;
    this.pos++; // [
    this.space();
    if (this.peek() == 0x5d) {
      this.pos++;
      return v;
    }
    while (true) {
      const item = this.value(depth + 1);
      if (item == null) return null;
      v.items.push(item);
      this.space();
      const c = this.peek();
      this.pos++;
      if (c == 0x5d) return v;
      if (c != 0x2c) return null;
    }
  }

  number(): JSONValue | null {
    const start = this.pos;
    if (this.peek() == 0x2d) this.pos++;
    let digits = 0;
    while (this.peek() >= 0x30 && this.peek() <= 0x39) { this.pos++; digits++; }
    if (digits == 0) return null;
    if (this.peek() == 0x2e) {
      this.pos++;
      digits = 0;
      while (this.peek() >= 0x30 && this.peek() <= 0x39) { this.pos++; digits++; }
      if (digits == 0) return null;
    }
    if (this.peek() == 0x65 || this.peek() == 0x45) {
      this.pos++;
      if (this.peek() == 0x2b || this.peek() == 0x2d) this.pos++;
      digits = 0;
      while (this.peek() >= 0x30 && this.peek() <= 0x39) { this.pos++; digits++; }
      if (digits == 0) return null;
    }
    return JSONValue.fromNumber(parseFloat(this.s.substring(start, this.pos)));
  }

  /** A string literal at pos (which is a quote), unescaped; null if malformed. */
  string(): string | null {
    this.pos++; // "
    let out = "";
    let start = this.pos;
    while (this.pos < this.s.length) {
      const c = this.s.charCodeAt(this.pos);
      if (c == 0x22) {
        out += this.s.substring(start, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) return null;
      if (c != 0x5c) {
        this.pos++;
        continue;
      }
      out += this.s.substring(start, this.pos);
      const e = this.pos + 1 < this.s.length ? this.s.charCodeAt(this.pos + 1) : -1;
      this.pos += 2;
      if (e == 0x22) out += "\"";
      else if (e == 0x5c) out += "\\";
      else if (e == 0x2f) out += "/";
      else if (e == 0x62) out += "\b";
      else if (e == 0x66) out += "\f";
      else if (e == 0x6e) out += "\n";
      else if (e == 0x72) out += "\r";
      else if (e == 0x74) out += "\t";
      else if (e == 0x75) {
        // \uXXXX is one UTF-16 code unit, which is what a string holds.
        if (this.pos + 4 > this.s.length) return null;
        let u = 0;
        for (let i = 0; i < 4; i++) {
          const h = this.s.charCodeAt(this.pos + i);
          let d = -1;
          if (h >= 0x30 && h <= 0x39) d = h - 0x30;
          else if (h >= 0x61 && h <= 0x66) d = h - 0x57;
          else if (h >= 0x41 && h <= 0x46) d = h - 0x37;
          if (d < 0) return null;
          u = (u << 4) | d;
        }
        this.pos += 4;
        out += String.fromCharCode(u);
      } else {
        return null;
      }
      start = this.pos;
    }
    return null;
  }
}
