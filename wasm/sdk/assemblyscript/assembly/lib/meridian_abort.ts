// The check's abort handler: AssemblyScript calls abort on a failed
// assert, an index out of range, a null where none may be, or running out
// of memory. Its default imports env.abort, which the Meridian ABI does not
// offer; asconfig.json makes this file a library (--lib) and routes abort
// here (--use abort=meridianAbort). The message becomes the check's output
// and the check traps, which makes it critical.

@external("meridian", "set_output")
declare function meridian_abort_set_output(ptr: usize, len: usize): i32;

export function meridianAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let text = "abort: " + (message != null ? message : "(no message)");
  if (fileName != null) {
    text += " at " + fileName + ":" + line.toString() + ":" + column.toString();
  }
  const buf = String.UTF8.encode(text);
  meridian_abort_set_output(changetype<usize>(buf), <usize>buf.byteLength);
  unreachable();
}
