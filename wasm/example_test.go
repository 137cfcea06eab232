package wasm_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"meridian/wasm"
)

func Example() {
	ctx := context.Background()
	rt, err := wasm.New(ctx, wasm.Config{}) // CacheDir: keep compiled code on disk
	if err != nil {
		panic(err)
	}
	defer rt.Close(ctx)

	module, err := os.ReadFile("testdata/output.wasm")
	if err != nil {
		panic(err)
	}
	mod, err := rt.Load(ctx, module)
	if err != nil {
		panic(err)
	}
	defer mod.Close(ctx)

	res := mod.Run(ctx, wasm.Check{
		Name:   "replicas",
		Grants: []string{"http://127.0.0.1:8080/health"},
		Limits: wasm.Limits{Timeout: 2 * time.Second},
	})
	fmt.Println(res.Status == wasm.Passing, res.Output)
	// Output: true all good: 3 of 3 replicas up
}

func ExampleRuntime_Validate() {
	ctx := context.Background()
	rt, err := wasm.New(ctx, wasm.Config{})
	if err != nil {
		panic(err)
	}
	defer rt.Close(ctx)

	module, err := os.ReadFile("testdata/bad_import.wasm")
	if err != nil {
		panic(err)
	}
	_, err = rt.Validate(ctx, module)
	fmt.Println(err)
	// Output: wasm: import "env"."foo" is not part of the Meridian ABI v1
}

func ExampleValidateGrants() {
	fmt.Println(wasm.ValidateGrants([]string{
		"http://127.0.0.1:8080/health", // http_request to this URL and below
		"*.internal:443",               // tcp_connect
		"localhost",                    // dns_lookup
	}))
	fmt.Println(wasm.ValidateGrants([]string{"127.0.0.1"})) // a DNS name grant: valid, but not for TCP
	fmt.Println(wasm.ValidateGrants([]string{"10.0.0.1:http"}))
	// Output:
	// <nil>
	// <nil>
	// wasm: grant "10.0.0.1:http": bad port "http"
}
