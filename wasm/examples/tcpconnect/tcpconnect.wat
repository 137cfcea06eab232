;; tcpconnect is a Meridian health check in WebAssembly text: a TCP port
;; accepts connections. Arguments (JSON): {"addr": "127.0.0.1:5432"}, the
;; address granted to the check ("127.0.0.1:5432"), and optionally
;; "timeout_ms" (default 2000; at most 9 digits are read).
;;
;; Passing when it connects: "127.0.0.1:5432: connected"; critical when it
;; does not (the runtime's line says why), or when the arguments have no
;; "addr" string: "bad arguments: want {"addr": "host:port"}".
;;
;; Build: wat2wasm --debug-names -o ../testdata/tcpconnect.wasm tcpconnect.wat
(module
  (import "meridian" "args_len" (func $args_len (result i32)))
  (import "meridian" "args_read" (func $args_read (param i32 i32) (result i32)))
  (import "meridian" "tcp_connect"
    (func $tcp_connect (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "meridian" "set_output" (func $set_output (param i32 i32) (result i32)))
  (memory (export "memory") 1)

  ;; Memory layout: constants below 256, the output at 256 (the address,
  ;; at most 256 bytes, and a suffix), the arguments at 1024 (up to 63 KiB).
  (data (i32.const 0) "\"addr\"")                                   ;; 6 bytes
  (data (i32.const 16) "\"timeout_ms\"")                            ;; 12 bytes
  (data (i32.const 32) ": connected")                               ;; 11 bytes
  (data (i32.const 48) ": cannot connect")                          ;; 16 bytes
  (data (i32.const 80) "bad arguments: want {\"addr\": \"host:port\"}") ;; 41 bytes
  (global $out i32 (i32.const 256))
  (global $args i32 (i32.const 1024))
  (global $argsMax i32 (i32.const 64512))

  ;; find returns the offset of the first n bytes at $needle in the $len
  ;; bytes at $hay, or -1.
  (func $find (param $hay i32) (param $len i32) (param $needle i32) (param $n i32) (result i32)
    (local $i i32) (local $j i32)
    (block $none
      (loop $next
        (br_if $none (i32.gt_s (i32.add (local.get $i) (local.get $n)) (local.get $len)))
        (local.set $j (i32.const 0))
        (block $differ
          (loop $cmp
            (br_if $differ
              (i32.ne (i32.load8_u (i32.add (i32.add (local.get $hay) (local.get $i)) (local.get $j)))
                      (i32.load8_u (i32.add (local.get $needle) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (if (i32.eq (local.get $j) (local.get $n)) (then (return (local.get $i))))
            (br $cmp)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const -1))

  ;; skip returns the first offset from $i (below $len) of the arguments
  ;; that is not a space, tab, newline, carriage return or colon.
  (func $skip (param $i i32) (param $len i32) (result i32)
    (local $c i32)
    (block $done
      (loop $more
        (br_if $done (i32.ge_s (local.get $i) (local.get $len)))
        (local.set $c (i32.load8_u (i32.add (global.get $args) (local.get $i))))
        (br_if $done
          (i32.eqz
            (i32.or (i32.or (i32.eq (local.get $c) (i32.const 0x20)) (i32.eq (local.get $c) (i32.const 0x09)))
                    (i32.or (i32.or (i32.eq (local.get $c) (i32.const 0x0a)) (i32.eq (local.get $c) (i32.const 0x0d)))
                            (i32.eq (local.get $c) (i32.const 0x3a))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $more)))
    (local.get $i))

  ;; copy copies $n bytes from $src to $dst.
  (func $copy (param $dst i32) (param $src i32) (param $n i32)
    (local $i i32)
    (block $done
      (loop $more
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store8 (i32.add (local.get $dst) (local.get $i))
                    (i32.load8_u (i32.add (local.get $src) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $more))))

  ;; timeout reads "timeout_ms": N from the $len bytes of arguments, or 2000.
  (func $timeout (param $len i32) (result i32)
    (local $i i32) (local $c i32) (local $v i32) (local $digits i32)
    (local.set $i (call $find (global.get $args) (local.get $len) (i32.const 16) (i32.const 12)))
    (if (i32.lt_s (local.get $i) (i32.const 0)) (then (return (i32.const 2000))))
    (local.set $i (call $skip (i32.add (local.get $i) (i32.const 12)) (local.get $len)))
    (block $done
      (loop $more
        (br_if $done (i32.ge_s (local.get $i) (local.get $len)))
        (br_if $done (i32.ge_s (local.get $digits) (i32.const 9)))
        (local.set $c (i32.sub (i32.load8_u (i32.add (global.get $args) (local.get $i))) (i32.const 0x30)))
        (br_if $done (i32.gt_u (local.get $c) (i32.const 9)))
        (local.set $v (i32.add (i32.mul (local.get $v) (i32.const 10)) (local.get $c)))
        (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $more)))
    (if (result i32) (local.get $digits) (then (local.get $v)) (else (i32.const 2000))))

  (func $bad (result i32)
    (drop (call $set_output (i32.const 80) (i32.const 41)))
    (i32.const 2))

  (func (export "check") (result i32)
    (local $len i32) (local $i i32) (local $start i32) (local $n i32) (local $r i32)
    ;; The arguments, at most $argsMax bytes.
    (local.set $len (call $args_len))
    (if (i32.or (i32.le_s (local.get $len) (i32.const 0)) (i32.gt_s (local.get $len) (global.get $argsMax)))
      (then (return (call $bad))))
    (drop (call $args_read (global.get $args) (local.get $len)))
    ;; "addr", then spaces and a colon, then a string without escapes.
    (local.set $i (call $find (global.get $args) (local.get $len) (i32.const 0) (i32.const 6)))
    (if (i32.lt_s (local.get $i) (i32.const 0)) (then (return (call $bad))))
    (local.set $i (call $skip (i32.add (local.get $i) (i32.const 6)) (local.get $len)))
    (if (i32.or (i32.ge_s (local.get $i) (local.get $len))
                (i32.ne (i32.load8_u (i32.add (global.get $args) (local.get $i))) (i32.const 0x22)))
      (then (return (call $bad))))
    (local.set $start (i32.add (local.get $i) (i32.const 1)))
    (local.set $n (call $find
      (i32.add (global.get $args) (local.get $start)) (i32.sub (local.get $len) (local.get $start))
      (i32.const 0) (i32.const 1)))                          ;; the closing quote
    (if (i32.le_s (local.get $n) (i32.const 0)) (then (return (call $bad))))
    (if (i32.gt_s (local.get $n) (i32.const 256)) (then (return (call $bad))))
    (local.set $start (i32.add (global.get $args) (local.get $start)))
    ;; Connect, send nothing, read nothing.
    (local.set $r (call $tcp_connect (local.get $start) (local.get $n)
      (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (call $timeout (local.get $len))))
    ;; The output: the address and what happened.
    (call $copy (global.get $out) (local.get $start) (local.get $n))
    (if (i32.ge_s (local.get $r) (i32.const 0))
      (then
        (call $copy (i32.add (global.get $out) (local.get $n)) (i32.const 32) (i32.const 11))
        (drop (call $set_output (global.get $out) (i32.add (local.get $n) (i32.const 11))))
        (return (i32.const 0))))
    (call $copy (i32.add (global.get $out) (local.get $n)) (i32.const 48) (i32.const 16))
    (drop (call $set_output (global.get $out) (i32.add (local.get $n) (i32.const 16))))
    (i32.const 2)))
