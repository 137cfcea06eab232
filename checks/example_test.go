package checks_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"meridian/checks"
	"meridian/rpc"
)

func ExampleValidate() {
	err := checks.Validate(rpc.CheckDefinition{
		ID:       "web",
		Name:     "web",
		Kind:     rpc.CheckHTTP,
		HTTP:     "http://127.0.0.1:8080/health",
		Interval: rpc.Duration(10 * time.Millisecond),
	})
	fmt.Println(err)
	// Output: check "web": field "interval": 10ms is under the minimum of 1s
}

func ExampleRunner() {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer web.Close()

	changes := make(chan checks.Update, 10)
	r, err := checks.New(checks.Config{
		MinInterval: 10 * time.Millisecond, // for the example; 1s by default
		Notify:      func(u checks.Update) { changes <- u },
	})
	if err != nil {
		panic(err)
	}
	defer r.Close()

	if err := r.Add(rpc.CheckDefinition{
		ID: "service:web", Name: "web", ServiceID: "web", Kind: rpc.CheckHTTP,
		HTTP: web.URL + "/health", Interval: rpc.Duration(50 * time.Millisecond),
		Timeout: rpc.Duration(5 * time.Second),
	}); err != nil {
		panic(err)
	}
	if err := r.Add(rpc.CheckDefinition{
		ID: "service:api", Name: "api", ServiceID: "api", Kind: rpc.CheckTTL,
		TTL: rpc.Duration(time.Minute),
	}); err != nil {
		panic(err)
	}
	if err := r.UpdateTTL("service:api", rpc.HealthPassing, "ready"); err != nil {
		panic(err)
	}

	for range 2 {
		u := <-changes
		fmt.Println(u.ID, u.Status)
	}
	// Unordered output:
	// service:web passing
	// service:api passing
}
