;; Looks up the name given as its arguments (a bare string) and sets the
;; JSON array of addresses as its output; on an error it sets "error -N"
;; and is critical.
(module
  (import "meridian" "args_len" (func $args_len (result i32)))
  (import "meridian" "args_read" (func $args_read (param i32 i32) (result i32)))
  (import "meridian" "set_output" (func $set_output (param i32 i32) (result i32)))
  (import "meridian" "dns_lookup" (func $dns_lookup (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "error -0")
  (func $fail (param $code i32) (result i32)
    (i32.store8 (i32.const 7) (i32.sub (i32.const 48) (local.get $code)))
    (drop (call $set_output (i32.const 0) (i32.const 8)))
    (i32.const 2))
  (func (export "check") (result i32)
    (local $n i32)
    (local.set $n (call $args_read (i32.const 1024) (call $args_len)))
    (if (i32.lt_s (local.get $n) (i32.const 0))
      (then (return (call $fail (local.get $n)))))
    (local.set $n
      (call $dns_lookup (i32.const 1024) (local.get $n) (i32.const 4096) (i32.const 1024)))
    (if (i32.lt_s (local.get $n) (i32.const 0))
      (then (return (call $fail (local.get $n)))))
    (drop (call $set_output (i32.const 4096) (local.get $n)))
    (i32.const 0)))
