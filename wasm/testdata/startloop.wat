;; Hostile: its start function (run when an instance is made) loops
;; forever.
(module
  (func $start (loop $forever (br $forever)))
  (start $start)
  (func (export "check") (result i32)
    (i32.const 0)))
