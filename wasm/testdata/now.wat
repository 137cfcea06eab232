;; Writes now_ms() in decimal as its output.
(module
  (import "meridian" "now_ms" (func $now_ms (result i64)))
  (import "meridian" "set_output" (func $set_output (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "check") (result i32)
    (local $v i64) (local $p i32)
    (local.set $v (call $now_ms))
    ;; digits are written backwards from offset 64
    (local.set $p (i32.const 64))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $digit (i64.ne (local.get $v) (i64.const 0))))
    (drop (call $set_output (local.get $p) (i32.sub (i32.const 64) (local.get $p))))
    (i32.const 0)))
