// Package metrics is the agent's Prometheus exposition: the director's IPVS
// counters, the real server's DSCP→VIP table, the health checks' state and
// latency, and the agent's own applies, repairs and errors.
//
// The kernel's numbers are read at scrape time and handed to Prometheus as
// constant metrics, so a counter is the kernel's own 64-bit counter: it never
// drifts from what ipvsadm or 'l3dsr map show' print, and a scrape costs
// nothing between scrapes. What only the agent knows (a check's result, a
// repair) it reports through Health and Agent as it happens.
//
// The package never prints and never serves: the agent owns the listener and
// hands Handler to it.
package metrics
