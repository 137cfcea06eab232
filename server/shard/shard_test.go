package shard

import "testing"

func TestForKeySameFolderSameShard(t *testing.T) {
	cases := []struct {
		name string
		a, b string
	}{
		{"siblings", "app/web/config", "app/db/password"},
		{"folder and its key", "app/", "app/x"},
		{"deep", "app/a/b/c/d", "app/z"},
		{"no slash equals folder", "app", "app/anything"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range []int{1, 2, 4, 7, 16} {
				if ForKey(tc.a, n) != ForKey(tc.b, n) {
					t.Fatalf("n=%d: %q in %v but %q in %v", n, tc.a, ForKey(tc.a, n), tc.b, ForKey(tc.b, n))
				}
			}
		})
	}
}

// TestForKeyStable pins the hash: a change here moves stored data between
// shards and breaks every existing datacenter.
func TestForKeyStable(t *testing.T) {
	golden := []struct {
		key  string
		want ID
	}{
		{"app/web/config", 2},
		{"users/1", 5},
		{"config", 5},
		{"a", 2},
		{"", 3},
	}
	for _, g := range golden {
		if got := ForKey(g.key, 4); got != g.want {
			t.Errorf("ForKey(%q, 4) = %d, want %d", g.key, got, g.want)
		}
	}
}

func TestForKeySpreads(t *testing.T) {
	seen := map[ID]int{}
	for i := 0; i < 1000; i++ {
		seen[ForKey(string(rune('a'+i%26))+string(rune('a'+i/26%26))+"/k", 4)]++
	}
	if len(seen) != 4 {
		t.Fatalf("1000 folders landed in %d of 4 shards: %v", len(seen), seen)
	}
	for id, n := range seen {
		if n < 100 {
			t.Errorf("shard %v got only %d of 1000 folders", id, n)
		}
	}
}

func TestForPrefix(t *testing.T) {
	cases := []struct {
		prefix string
		single bool
	}{
		{"", false},
		{"app", false},
		{"app/", true},
		{"app/web/", true},
	}
	for _, tc := range cases {
		t.Run(tc.prefix, func(t *testing.T) {
			id, ok := ForPrefix(tc.prefix, 4)
			if ok != tc.single {
				t.Fatalf("ForPrefix(%q) single = %v, want %v", tc.prefix, ok, tc.single)
			}
			if ok && id != ForKey(tc.prefix+"x", 4) {
				t.Fatalf("ForPrefix(%q) = %v, but its keys go to %v", tc.prefix, id, ForKey(tc.prefix+"x", 4))
			}
		})
	}
}

func TestAll(t *testing.T) {
	ids := All(4)
	if len(ids) != 5 || ids[0] != System || ids[1] != KV(0) || ids[4] != KV(3) {
		t.Fatalf("All(4) = %v", ids)
	}
	if System.Kind() != "system" || KV(0).Kind() != "kv" {
		t.Fatal("kinds wrong")
	}
}
