package metrics

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// BenchmarkScrape is one GET /metrics of a director of 100 services of 4
// reals each, every real with its health series: the size issue 16 asks
// the scrape time of.
func BenchmarkScrape(b *testing.B) {
	const services, reals = 100, 4
	st := director.Status{}
	r := New(Sources{Director: func() (director.Status, error) { return st, nil }})
	now := time.Now()
	for i := range services {
		k := director.Key{VIP: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), Port: 80, Proto: ipvs.ProtoTCP}
		s := director.Service{Key: k, Stats: ipvs.Stats{Connections: 1 << 33, PacketsIn: 1 << 40, BytesIn: 1 << 50}}
		for j := range reals {
			addr := netip.AddrFrom4([4]byte{198, 51, byte(i), byte(j)})
			s.Reals = append(s.Reals, director.Real{Addr: addr, Weight: 100, ActiveConns: 10, InactiveConns: 3,
				Stats: ipvs.Stats{Connections: 1 << 31, PacketsIn: 1 << 38, BytesIn: 1 << 48}})
			r.Health.Observe(k, addr, 2*time.Millisecond, true)
			r.Health.Observe(k, addr, time.Second, false)
			r.Health.SetState(k, addr, true, now)
		}
		r.Health.SetSorry(k, false)
		st.Services = append(st.Services, s)
	}
	h := r.Handler()
	// Prometheus asks for gzip; curl and the tests do not.
	for _, enc := range []string{"identity", "gzip"} {
		b.Run(enc, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			req.Header.Set("Accept-Encoding", enc)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("scrape answered %d", rec.Code)
				}
			}
			b.ReportMetric(float64(rec(h, req).Body.Len()), "body-bytes")
		})
	}
}

// rec is one scrape's recorded answer.
func rec(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
