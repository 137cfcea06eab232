;; Hostile: sleeps for an hour through WASI poll_oneoff, then passes.
(module
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "check") (result i32)
    ;; subscription at 0: userdata 0, tag 0 (clock), clock id 1
    ;; (monotonic), timeout 3600 s in ns, relative
    (i32.store8 (i32.const 8) (i32.const 0))
    (i32.store (i32.const 16) (i32.const 1))
    (i64.store (i32.const 24) (i64.const 3600000000000))
    (drop (call $poll_oneoff (i32.const 0) (i32.const 128) (i32.const 1) (i32.const 256)))
    (i32.const 0)))
