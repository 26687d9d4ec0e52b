package health

import "context"

// probeTCP passes when a connection opens: the real's port listens and,
// on the DSR path, its answer came back from the VIP.
func probeTCP(ctx context.Context, t Target) error {
	c, err := t.dialer("tcp").DialContext(ctx, "tcp", t.addr().String())
	if err != nil {
		return err
	}
	return c.Close()
}
