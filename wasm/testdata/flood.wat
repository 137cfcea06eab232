;; Hostile: sets 60000 bytes of output and writes 1000 lines to stdout.
(module
  (import "meridian" "set_output" (func $set_output (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "check") (result i32)
    (local $i i32)
    (memory.fill (i32.const 1024) (i32.const 120) (i32.const 60000))
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 100))
    (loop $lines
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $lines (i32.lt_u (local.get $i) (i32.const 1000))))
    (drop (call $set_output (i32.const 1024) (i32.const 60000)))
    (i32.const 0)))
