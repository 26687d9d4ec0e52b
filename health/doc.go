// Package health decides whether a real server is up: one probe of a
// service's check (runProbe), the rise/fall hysteresis that turns probes into
// a state, and the Monitor that runs every real's check on its interval and
// reports each result. It changes nothing itself: the agent acts on what
// the Monitor reports.
//
// Every probe's sockets come from the Dialer its Target names, so the
// caller decides the path (a plain socket to RIP:port, or one whose mark
// sends it along the DSR path to VIP:port); this package knows neither.
package health
