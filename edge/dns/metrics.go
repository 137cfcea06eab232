package dns

import "sync/atomic"

// Stats are the server's counters since New, and two gauges. Each field
// names the Prometheus metric it is exported as (meridian_dns_...).
type Stats struct {
	// Queries answered, any outcome (meridian_dns_queries_total).
	Queries uint64 `json:"queries"`
	// CacheHits and CacheMisses count cache lookups (a service query makes
	// two: the service list, then the service): a miss waited for the
	// servers (meridian_dns_cache_hits_total, ..._misses_total).
	CacheHits   uint64 `json:"cache_hits"`
	CacheMisses uint64 `json:"cache_misses"`
	// StaleAnswers counts lookups answered from an entry past StaleBound
	// because the servers could not be reached
	// (meridian_dns_stale_answers_total).
	StaleAnswers uint64 `json:"stale_answers"`
	// Refreshes counts fetches that brought an answer from the servers:
	// first fetches, watch returns, refetches (meridian_dns_refreshes_total).
	Refreshes uint64 `json:"refreshes"`
	// FetchErrors counts fetches that failed (meridian_dns_fetch_errors_total).
	FetchErrors uint64 `json:"fetch_errors"`
	// Entries is the number of cached answers now (meridian_dns_cache_entries).
	Entries int `json:"entries"`
	// StaleEntries is the number of them past StaleBound now: non-zero
	// while the servers are unreachable (meridian_dns_cache_stale_entries).
	StaleEntries int `json:"stale_entries"`
	// Truncated counts answers cut to fit, with the TC bit
	// (meridian_dns_truncated_total).
	Truncated uint64 `json:"truncated"`
	// Forwarded counts questions sent to recursors; RecursorErrors those
	// no recursor answered (meridian_dns_forwarded_total,
	// meridian_dns_recursor_errors_total).
	Forwarded      uint64 `json:"forwarded"`
	RecursorErrors uint64 `json:"recursor_errors"`
	// Answers by response code other than NOERROR
	// (meridian_dns_responses_total{rcode=...}).
	NXDomain uint64 `json:"nxdomain"`
	ServFail uint64 `json:"servfail"`
	Refused  uint64 `json:"refused"`
	FormErr  uint64 `json:"formerr"`
	NotImp   uint64 `json:"notimp"`
	// Malformed counts packets that could not be parsed: answered FORMERR,
	// or dropped when shorter than a header (meridian_dns_malformed_total).
	Malformed uint64 `json:"malformed"`
}

// counters are the live Stats counters.
type counters struct {
	queries, hits, misses, staleAnswers, refreshes, fetchErrors atomic.Uint64
	truncated, forwarded, recursorErrors                        atomic.Uint64
	nxdomain, servfail, refused, formerr, notimp, malformed     atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Queries: c.queries.Load(), CacheHits: c.hits.Load(), CacheMisses: c.misses.Load(),
		StaleAnswers: c.staleAnswers.Load(), Refreshes: c.refreshes.Load(), FetchErrors: c.fetchErrors.Load(),
		Truncated: c.truncated.Load(), Forwarded: c.forwarded.Load(), RecursorErrors: c.recursorErrors.Load(),
		NXDomain: c.nxdomain.Load(), ServFail: c.servfail.Load(), Refused: c.refused.Load(),
		FormErr: c.formerr.Load(), NotImp: c.notimp.Load(), Malformed: c.malformed.Load(),
	}
}
