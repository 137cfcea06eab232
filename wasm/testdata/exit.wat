;; Ends its run with WASI proc_exit(1): the exit code is the status.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (func (export "check") (result i32)
    (call $proc_exit (i32.const 1))
    (i32.const 0)))
